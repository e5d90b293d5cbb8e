"""Attack-cue lexicon used by prepare.py to find CyberSecEval / verazuo rows that are
benign when read alone (label noise, see /work/shared/data/README.md).

A row "has a cue" if it mentions something only an attack would ask for on its own:
overriding/ignoring instructions, a password/secret/key, the system prompt, a mode switch,
or somebody else's personal data. The list is multilingual for the 17 CyberSecEval
translation languages (password / ignore / instructions / secret are covered per language).
"""
import re

_EN = r"""
ignor|disregard|forget|overrid|bypass|instruction|previous|above|prior|
password|passphrase|passcode|pass\s?word|secret|confidential|private|api[ _-]?key|secret\s?key|key|token|credential|pin\b|
system\s?prompt|system\s?mode|maintenance\s?mode|developer|admin|debug|root|unlock|access|
database|print\s+your|reveal|expose|leak|
user'?s|birth|e-?mail\s+address|phone\s+number|home\s+address|where\s+does|lives?\b|favou?rite\s+colou?r|social\s+security|credit\s?card|
base64|hex|binary|pig\s?latin|encode|decode|cipher|rot13|
say\s|state\s+that|output\s+is|respond\s+with|repeat|instead|actually|
phish|malware|hack|exploit|
\bdan\b|jailbreak|no\s+restrictions|unrestricted|unfiltered|rules|
\bbomb|weapon|illegal
"""

_ML = r"""
passwort|kennwort|mot\s+de\s+passe|contrase|clave|senha|parola\s+d|пароль|şifre|sifre|parola|kata\s+sandi|sandi|mật\s+khẩu|
パスワード|暗証|秘密|비밀번호|암호|密码|密碼|口令|كلمة\s*(ال)?مرور|كلمة\s*السر|पासवर्ड|कूटशब्द|পাসওয়ার্ড|รหัสผ่าน|
ignorier|ignorez|ignora|ignore|игнорир|игнор|забудь|не\s+обращ|yoksay|görmezden|abaikan|lupakan|bỏ\s+qua|phớt\s+lờ|
無視|忘れ|무시|잊어|忽略|忘记|تجاهل|انس|अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल|উপেক্ষা|ভুলে|เพิกเฉย|ไม่สนใจ|ลืม|
huwag\s+pansinin|balewalain|kalimutan|
anweisung|instructions?|instrucci|istruzion|instru[cç]|инструкц|talimat|instruksi|hướng\s+dẫn|指示|지시|指令|说明|تعليمات|निर्देश|নির্দেশ|คำสั่ง|tagubilin|
geheim|secret|secreto|segreto|segredo|секрет|gizli|rahasia|bí\s+mật|비밀|机密|سر|गुप्त|গোপন|ความลับ|lihim|
entwickler|développeur|desarrollador|sviluppatore|desenvolvedor|разработчик|geliştirici|pengembang|nhà\s+phát\s+triển|開発者|개발자|开发者|المطور|डेवलपर|ডেভেলপার|นักพัฒนา|
base\s?64
"""

CUE_RE = re.compile("(" + "|".join(p.strip() for p in (_EN + "|" + _ML).split("|") if p.strip()) + ")",
                    re.IGNORECASE)

# Cues for the verazuo in-the-wild jailbreak prompts: a row with none of these is a mild
# role-play / style request, not a policy-override attempt.
JB_CUE_RE = re.compile(
    r"(ignore|disregard|forget|rule|restrict|filter|polic|openai|chatgpt|\bgpt|\bai\b|language model|\bdan\b|"
    r"jailbr|unfilter|uncensor|ethic|moral|illegal|harm|offensive|explicit|anything|no limit|never refuse|refus|"
    r"guideline|censor|content|profan|swear|developer mode|persona|without|unrestrict|allowed|legal|dangerous)",
    re.IGNORECASE)


def has_attack_cue(text: str) -> bool:
    return CUE_RE.search(text) is not None


def has_jailbreak_cue(text: str) -> bool:
    return JB_CUE_RE.search(text) is not None
