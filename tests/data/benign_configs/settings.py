import os

DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = ["app.acme.dev"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "acme",
        "USER": os.environ.get("DB_USER", "acme"),
        "PASSWORD": os.environ.get("DB_PASSWORD"),
        "HOST": "db.internal",
    }
}
AUTH_PASSWORD_VALIDATORS = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
SESSION_COOKIE_AGE = 1209600
CSRF_TRUSTED_ORIGINS = ["https://app.acme.dev"]
