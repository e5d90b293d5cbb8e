#!/usr/bin/env python3
"""Write rules/secrets-providers.toml and tests/data/secrets_eval/providers.jsonl from one table.

usage: python3 scripts/gen_secret_providers.py        # rewrite both files (deterministic, seed 13)
       python3 scripts/gen_secret_providers.py --check  # exit 1 when the committed files differ

Each provider rule is either
* prefixed (`P`): the token starts with a provider literal (`sntryu_`, `HRKU-AA`), which is the
  rule's gate: the engine's Aho-Corasick pass over every rule's literal finds candidates and only
  there the rule's regex runs (detect/regex.rs, PrefixedRules);
* keyword-gated (`K`): the value has no prefix of its own (a 32-hex Twitter secret), so the match
  starts at the provider's name (`twitter`, `Twitter`, `TWITTER`), which is the literal gate, and
  runs through a short key name and an assignment to the value (group 1).

Every key written here is generated from the seed: random, well-formed, never issued. The eval
set uses templates and values the pack's examples do not (another seed), plus decoys (the
placeholder and truncated forms) that must not be masked.
"""
import json, os, random, re, string, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK = os.path.join(ROOT, "rules", "secrets-providers.toml")
EVAL = os.path.join(ROOT, "tests", "data", "secrets_eval", "providers.jsonl")
GENERIC_EVAL = os.path.join(ROOT, "tests", "data", "secrets_eval", "formats.jsonl")

CHARSETS = {
    "h": "0123456789abcdef",
    "X": "0123456789ABCDEF",
    "d": string.digits,
    "a": string.ascii_letters + string.digits,
    "l": string.ascii_lowercase + string.digits,
    "u": string.ascii_uppercase + string.digits,
    "L": string.ascii_lowercase,
    "b": string.ascii_letters + string.digits + "+/",
    "w": string.ascii_letters + string.digits + "_-",
    "c": "qpzry9x8gf2tvdw0s3jn54khce6mua7l",  # bech32
    "U": string.ascii_uppercase,
    "C": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",  # bech32, upper case
}

# A literal-free value class's complement, for the end of a keyword-gated value.
END = {"h": "[^0-9a-fA-F]", "X": "[^0-9a-fA-F]", "d": "[^0-9]", "a": "[^A-Za-z0-9]", "l": "[^A-Za-z0-9]",
       "u": "[^A-Za-z0-9]", "w": "[^A-Za-z0-9_-]", "b": "[^A-Za-z0-9+/=]", "L": "[^A-Za-z0-9]"}


def uuid(rng, upper=False):
    h = CHARSETS["X" if upper else "h"]
    return "-".join("".join(rng.choice(h) for _ in range(n)) for n in (8, 4, 4, 4, 12))


def sample(spec, rng):
    out = []
    for part in spec:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "uuid":
            out.append(uuid(rng, part[1] if len(part) > 1 else False))
        else:
            cs, n = part
            out.append("".join(rng.choice(CHARSETS[cs]) for _ in range(n)))
    return "".join(out)


def placeholder(spec):
    """The token's shape with every random part written as x / 0: a documentation placeholder."""
    out = []
    for part in spec:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "uuid":
            out.append("00000000-0000-0000-0000-000000000000")
        else:
            cs, n = part
            out.append(("0" if cs in "hXd" else "x" if cs not in "uU" else "X") * n)
    return "".join(out)


RULES = []


def bound(pattern):
    """Give every open repetition an upper bound, so the rule can run in streaming mode
    (`rules check` warns otherwise): the streaming scanner holds back at most the longest match."""
    pattern = pattern.replace("[ \\t]*", "[ \\t]{0,16}").replace("[ \\t]+", "[ \\t]{1,16}").replace("[ \\t=]*", "[ \\t=]{0,16}")
    pattern = re.sub(r"\{([0-9]+),\}", lambda m: "{%s,%d}" % (m.group(1), max(4096, int(m.group(1)) * 4)), pattern)
    for cls in ("[A-Za-z0-9_-]", "[a-z0-9-]", "[A-Za-z0-9_.-]"):
        pattern = pattern.replace(cls + "+", cls + "{1,256}")
    pattern = pattern.replace("[ \\t=]+", "[ \\t=]{1,16}")
    # Ansible vault bodies are lines of 80 hex digits: bound the line and the line count.
    pattern = pattern.replace("[0-9a-f]{64,4096}", "[0-9a-f]{64,80}").replace("[0-9a-f]{2,4096}", "[0-9a-f]{2,80}")
    return pattern.replace(")*)", "){0,256})")


def P(rid, label, pattern, spec, ent=3.0, score=0.9, name="TOKEN", desc="", end=True, stop=None):
    """A prefixed token rule; `pattern` starts with the literal gate."""
    last = re.search(r"\[([^\]]*)\](?:\{[0-9,]*\}|[+*])?\)?$", pattern)
    if last and re.search(r"[-=+/.%]", last.group(1).replace("A-Z", "").replace("a-z", "").replace("0-9", "").replace("a-f", "").replace("a-h", "")):
        end = False  # a token may end in a non-word character, where \b would refuse it
    head = pattern[3:] if pattern.startswith("(?:") else pattern.lstrip("[")
    start = head[:1].isalnum()  # \b before a non-word first character would refuse most texts
    pat = ("(?-u:\\b)" if start else "") + pattern + ("(?-u:\\b)" if end else "")
    RULES.append(dict(kind="P", id=rid, label=label, pattern=bound(pat), spec=spec, ent=ent, score=score, name=name,
                      desc=desc, stop=stop))


def case_variants(word):
    vs = [word.lower(), word[0].upper() + word[1:].lower(), word.upper()]
    out = []
    for v in vs:
        if v not in out:
            out.append(v)
    return out


def K(rid, label, keywords, value, spec, ent=3.0, score=0.85, name=None, cls=None, desc="", camel=None):
    """A keyword-gated rule: provider name, a key name of up to 24 characters, an assignment
    (or a space, for CLI flags), then the value as group 1."""
    alts = []
    for kw in keywords:
        for v in case_variants(kw) + ([camel] if camel else []):
            if v not in alts:
                alts.append(v)
    gate = "(?:" + "|".join(re.escape(a).replace("\\-", "-").replace("\\_", "_") for a in alts) + ")"
    endc = END.get(cls or next((p[0] for p in spec if not isinstance(p, str) and p[0] in END), "a"), "[^A-Za-z0-9]")
    pat = (gate + "[A-Za-z0-9_.-]{0,24}[\"']?(?:[ \\t]*(?::=|=>|=|:)[ \\t]*|[ \\t]+)[\"'`]?(" + value + ")(?:" + endc + "|$)")
    RULES.append(dict(kind="K", id=rid, label=label, pattern=bound(pat), spec=spec, ent=ent, score=score,
                      name=name or keywords[0], kw=keywords[0], desc=desc, stop=None))


# ---------------------------------------------------------------- prefixed provider tokens
P("secret.sentry.user_token", "SENTRY_TOKEN", "sntryu_[a-f0-9]{64}", ["sntryu_", ("h", 64)], name="SENTRY_AUTH_TOKEN")
P("secret.sentry.org_token", "SENTRY_TOKEN", "sntrys_eyJ[A-Za-z0-9+/]{40,400}={0,2}_[A-Za-z0-9+/]{43}",
  ["sntrys_eyJ", ("b", 120), "_", ("b", 43)], name="SENTRY_AUTH_TOKEN", end=False)
P("secret.perplexity.api_key", "PERPLEXITY_API_KEY", "pplx-[A-Za-z0-9]{48}", ["pplx-", ("a", 48)], name="PERPLEXITY_API_KEY")
P("secret.clickhouse.cloud_secret", "CLICKHOUSE_API_SECRET", "4b1d[A-Za-z0-9]{38}", ["4b1d", ("a", 38)], name="CLICKHOUSE_KEY_SECRET")
P("secret.maxmind.license_key", "MAXMIND_LICENSE_KEY", "[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk", [("a", 6), "_", ("a", 29), "_mmk"],
  name="MAXMIND_LICENSE_KEY", desc="literal suffix _mmk is the gate (an inner literal)")
P("secret.heroku.api_key_v2", "HEROKU_API_KEY", "HRKU-AA[A-Za-z0-9_-]{58}", ["HRKU-AA", ("w", 58)], name="HEROKU_API_KEY")
P("secret.aws.bedrock_short_lived", "AWS_BEDROCK_API_KEY", "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/%=]{20,600}",
  ["bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t", ("b", 160)], name="AWS_BEARER_TOKEN_BEDROCK", end=False)
P("secret.slack.legacy_token", "SLACK_TOKEN", "xox[os]-[0-9]{1,16}-[0-9]{1,16}-[0-9]{1,16}-[A-Fa-f0-9]{16,64}",
  ["xoxs-", ("d", 11), "-", ("d", 11), "-", ("d", 12), "-", ("h", 64)], name="SLACK_TOKEN")
P("secret.slack.legacy_workspace_token", "SLACK_TOKEN", "xox[ar]-(?:[0-9]-)?[A-Za-z0-9]{8,48}",
  ["xoxa-2-", ("a", 40)], name="SLACK_TOKEN")
P("secret.slack.config_refresh_token", "SLACK_TOKEN", "xoxe-[0-9]-[A-Za-z0-9]{140,150}", ["xoxe-1-", ("u", 146)], name="SLACK_REFRESH_TOKEN")
P("secret.openai.admin_key", "OPENAI_ADMIN_KEY", "sk-admin-[A-Za-z0-9_-]{40,250}", ["sk-admin-", ("w", 130)], name="OPENAI_ADMIN_KEY",
  desc="admin keys carry no T3BlbkFJ marker; their own label")
P("secret.onepassword.secret_key", "ONEPASSWORD_SECRET_KEY", "A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
  ["A3-", ("u", 6), "-", ("u", 11), "-", ("u", 5), "-", ("u", 5), "-", ("u", 5)], name="OP_SECRET_KEY")
P("secret.onepassword.service_account_token", "ONEPASSWORD_TOKEN", "ops_eyJ[A-Za-z0-9+/]{250,}={0,3}", ["ops_eyJ", ("b", 300)],
  name="OP_SERVICE_ACCOUNT_TOKEN", end=False)
P("secret.adobe.client_secret", "ADOBE_CLIENT_SECRET", "p8e-[A-Za-z0-9]{32}", ["p8e-", ("a", 32)], name="ADOBE_CLIENT_SECRET")
P("secret.age.identity_plugin", "AGE_SECRET_KEY", "AGE-PLUGIN-[A-Z0-9]{1,20}-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{30,200}",
  ["AGE-PLUGIN-YUBIKEY-1", ("C", 50)], name="AGE_IDENTITY")
P("secret.airtable.pat", "AIRTABLE_TOKEN", "pat[A-Za-z0-9]{14}\\.[a-f0-9]{64}", ["pat", ("a", 14), ".", ("h", 64)], name="AIRTABLE_TOKEN")
P("secret.alibaba.access_key_id", "ALIBABA_ACCESS_KEY_ID", "LTAI[A-Za-z0-9]{20}", ["LTAI", ("a", 20)], name="ALIBABA_CLOUD_ACCESS_KEY_ID")
P("secret.artifactory.api_key", "ARTIFACTORY_API_KEY", "AKCp[A-Za-z0-9]{69}", ["AKCp", ("a", 69)], name="ARTIFACTORY_API_KEY")
P("secret.artifactory.reference_token", "ARTIFACTORY_TOKEN", "cmVmdGtuOjAxOj[A-Za-z0-9]{50}", ["cmVmdGtuOjAxOj", ("a", 50)], name="JFROG_ACCESS_TOKEN")
P("secret.authress.access_key", "AUTHRESS_KEY", "(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\\.[A-Za-z0-9]{4,6}\\.acc[_-][A-Za-z0-9-]{10,32}\\.[A-Za-z0-9+/_=-]{30,120}",
  ["authress_", ("a", 12), ".", ("l", 5), ".acc_", ("l", 20), ".", ("w", 60)], name="AUTHRESS_KEY", end=False)
P("secret.clojars.token", "CLOJARS_TOKEN", "CLOJARS_[a-z0-9]{60}", ["CLOJARS_", ("l", 60)], name="CLOJARS_DEPLOY_TOKEN")
P("secret.cloudflare.origin_ca_key", "CLOUDFLARE_ORIGIN_CA_KEY", "v1\\.0-[a-f0-9]{24}-[a-f0-9]{146}", ["v1.0-", ("h", 24), "-", ("h", 146)],
  name="CF_ORIGIN_CA_KEY")
P("secret.doppler.token", "DOPPLER_TOKEN", "dp\\.(?:pt|st(?:\\.[a-z0-9_-]{1,40})?|sa|ct|scim|audit)\\.[A-Za-z0-9]{40,44}", ["dp.pt.", ("a", 43)], name="DOPPLER_TOKEN")
P("secret.duffel.token", "DUFFEL_TOKEN", "duffel_(?:test|live)_[A-Za-z0-9_=-]{43}", ["duffel_live_", ("w", 43)], name="DUFFEL_ACCESS_TOKEN")
P("secret.dynatrace.token", "DYNATRACE_TOKEN", "dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64}", ["dt0c01.", ("u", 24), ".", ("u", 64)], name="DT_API_TOKEN")
P("secret.easypost.api_key", "EASYPOST_API_KEY", "EZ[AT]K[A-Za-z0-9]{54}", ["EZAK", ("a", 54)], name="EASYPOST_API_KEY")
P("secret.facebook.page_token", "FACEBOOK_TOKEN", "EAA[MC][A-Za-z0-9]{100,}", ["EAAC", ("a", 150)], name="FB_PAGE_ACCESS_TOKEN", end=False)
P("secret.flutterwave.secret_key", "FLUTTERWAVE_KEY", "FLW(?:SECK|PUBK)(?:_TEST)?-[a-h0-9]{32}-X", ["FLWSECK_TEST-", ("h", 32), "-X"],
  name="FLW_SECRET_KEY")
P("secret.flutterwave.encryption_key", "FLUTTERWAVE_KEY", "FLWSECK_TEST[a-h0-9]{12}", ["FLWSECK_TEST", ("h", 12)], name="FLW_ENCRYPTION_KEY", ent=2.8)
P("secret.flyio.token", "FLYIO_TOKEN", "(?:fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3})",
  ["fm2_", ("b", 180)], name="FLY_API_TOKEN", end=False)
P("secret.frameio.token", "FRAMEIO_TOKEN", "fio-u-[A-Za-z0-9_=-]{64}", ["fio-u-", ("w", 64)], name="FRAMEIO_TOKEN")
P("secret.gitlab.cicd_job_token", "GITLAB_TOKEN", "glcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}", ["glcbt-", ("a", 2), "_", ("w", 20)], name="CI_JOB_TOKEN")
P("secret.gitlab.feature_flag_token", "GITLAB_TOKEN", "glffct-[0-9a-zA-Z_-]{20}", ["glffct-", ("w", 20)], name="UNLEASH_TOKEN")
P("secret.gitlab.incoming_mail_token", "GITLAB_TOKEN", "glimt-[0-9a-zA-Z_-]{25}", ["glimt-", ("w", 25)], name="INCOMING_MAIL_TOKEN")
P("secret.gitlab.agent_token", "GITLAB_TOKEN", "glagent-[0-9a-zA-Z_-]{50}", ["glagent-", ("w", 50)], name="AGENT_TOKEN")
P("secret.gitlab.oauth_app_secret", "GITLAB_TOKEN", "gloas-[0-9a-zA-Z_-]{64}", ["gloas-", ("w", 64)], name="GITLAB_OAUTH_SECRET")
P("secret.gitlab.session_cookie", "GITLAB_SESSION", "_gitlab_session=([0-9a-z]{32})", ["_gitlab_session=", ("l", 32)], name="Cookie",
  desc="the cookie value is the finding")
P("secret.harness.token", "HARNESS_TOKEN", "(?:pat|sat)\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9]{24}\\.[A-Za-z0-9]{20}",
  ["pat.", ("w", 22), ".", ("a", 24), ".", ("a", 20)], name="HARNESS_API_KEY")
P("secret.infracost.token", "INFRACOST_TOKEN", "ico-[A-Za-z0-9]{32}", ["ico-", ("a", 32)], name="INFRACOST_API_KEY")
P("secret.intra42.client_secret", "INTRA42_SECRET", "s-s4t2(?:ud|af)-[a-f0-9]{64}", ["s-s4t2ud-", ("h", 64)], name="FT_CLIENT_SECRET")
P("secret.linear.api_key", "LINEAR_API_KEY", "lin_api_[A-Za-z0-9]{40}", ["lin_api_", ("a", 40)], name="LINEAR_API_KEY")
P("secret.mapbox.secret_token", "MAPBOX_TOKEN", "sk\\.eyJ[A-Za-z0-9_-]{50,100}\\.[A-Za-z0-9_-]{22}", ["sk.eyJ", ("w", 70), ".", ("w", 22)],
  name="MAPBOX_SECRET_TOKEN", end=False)
P("secret.mapbox.public_token", "MAPBOX_TOKEN", "pk\\.eyJ[A-Za-z0-9_-]{50,100}\\.[A-Za-z0-9_-]{22}", ["pk.eyJ", ("w", 70), ".", ("w", 22)],
  name="MAPBOX_ACCESS_TOKEN", end=False, score=0.6)
P("secret.newrelic.user_api_key", "NEWRELIC_KEY", "NRAK-[A-Z0-9]{27}", ["NRAK-", ("u", 27)], name="NEW_RELIC_API_KEY")
P("secret.newrelic.insert_key", "NEWRELIC_KEY", "NRII-[A-Za-z0-9_-]{32}", ["NRII-", ("w", 32)], name="NEW_RELIC_INSERT_KEY")
P("secret.newrelic.browser_key", "NEWRELIC_KEY", "NRJS-[a-f0-9]{19}", ["NRJS-", ("h", 19)], name="NEW_RELIC_BROWSER_KEY")
P("secret.newrelic.license_key", "NEWRELIC_KEY", "[a-f0-9]{36}NRAL", [("h", 36), "NRAL"], name="NEW_RELIC_LICENSE_KEY",
  desc="NRAL suffix is the gate (an inner literal)")
P("secret.notion.token", "NOTION_TOKEN", "ntn_[0-9]{11}[A-Za-z0-9]{35}", ["ntn_", ("d", 11), ("a", 35)], name="NOTION_TOKEN")
P("secret.notion.secret", "NOTION_TOKEN", "secret_[A-Za-z0-9]{43}", ["secret_", ("a", 43)], name="NOTION_API_KEY", ent=3.5)
P("secret.octopus.api_key", "OCTOPUS_API_KEY", "API-[A-Z0-9]{26,32}", ["API-", ("u", 27)], name="OCTOPUS_API_KEY", ent=3.5)
P("secret.openshift.user_token", "OPENSHIFT_TOKEN", "sha256~[A-Za-z0-9_-]{43}", ["sha256~", ("w", 43)], name="OC_TOKEN", stop=["your_token", "xxxxxxxx"])
P("secret.planetscale.token", "PLANETSCALE_TOKEN", "pscale_(?:tkn|oauth|pw)_[A-Za-z0-9_=.-]{32,64}", ["pscale_tkn_", ("w", 43)], name="PLANETSCALE_TOKEN")
P("secret.postman.api_key", "POSTMAN_API_KEY", "PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ["PMAK-", ("h", 24), "-", ("h", 34)], name="POSTMAN_API_KEY")
P("secret.prefect.api_key", "PREFECT_API_KEY", "pnu_[A-Za-z0-9]{36}", ["pnu_", ("a", 36)], name="PREFECT_API_KEY")
P("secret.pulumi.token", "PULUMI_TOKEN", "pul-[a-f0-9]{40}", ["pul-", ("h", 40)], name="PULUMI_ACCESS_TOKEN")
P("secret.readme.api_key", "README_API_KEY", "rdme_[a-z0-9]{70}", ["rdme_", ("l", 70)], name="README_API_KEY")
P("secret.rubygems.api_key", "RUBYGEMS_API_KEY", "rubygems_[a-f0-9]{48}", ["rubygems_", ("h", 48)], name="GEM_HOST_API_KEY")
P("secret.scalingo.token", "SCALINGO_TOKEN", "tk-us-[A-Za-z0-9_-]{48}", ["tk-us-", ("w", 48)], name="SCALINGO_API_TOKEN")
P("secret.sendinblue.api_key", "BREVO_API_KEY", "xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}", ["xkeysib-", ("h", 64), "-", ("a", 16)], name="BREVO_API_KEY")
P("secret.sendinblue.smtp_key", "BREVO_API_KEY", "xsmtpsib-[a-f0-9]{64}-[A-Za-z0-9]{16}", ["xsmtpsib-", ("h", 64), "-", ("a", 16)], name="BREVO_SMTP_KEY")
P("secret.settlemint.token", "SETTLEMINT_TOKEN", "sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}", ["sm_pat_", ("a", 16)], name="SETTLEMINT_TOKEN")
P("secret.shippo.token", "SHIPPO_TOKEN", "shippo_(?:live|test)_[a-fA-F0-9]{40}", ["shippo_live_", ("h", 40)], name="SHIPPO_API_TOKEN")
P("secret.sourcegraph.token", "SOURCEGRAPH_TOKEN", "sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}", ["sgp_", ("h", 16), "_", ("h", 40)], name="SRC_ACCESS_TOKEN")
P("secret.sourcegraph.legacy_token", "SOURCEGRAPH_TOKEN", "sgp_[a-fA-F0-9]{40}", ["sgp_", ("h", 40)], name="SRC_ACCESS_TOKEN")
P("secret.snyk.oauth_token", "SNYK_TOKEN", "snyk_(?:uat|sat)\\.[a-z0-9]{8}\\.[A-Za-z0-9_-]{20,100}\\.[A-Za-z0-9_-]{20,100}",
  ["snyk_uat.", ("l", 8), ".", ("w", 40), ".", ("w", 40)], name="SNYK_TOKEN", end=False)
P("secret.sonar.token", "SONAR_TOKEN", "sq[pua]_[a-f0-9]{40}", ["sqp_", ("h", 40)], name="SONAR_TOKEN")
P("secret.typeform.token", "TYPEFORM_TOKEN", "tfp_[A-Za-z0-9_.=-]{59}", ["tfp_", ("w", 59)], name="TYPEFORM_TOKEN")
P("secret.hashicorp.vault_unseal_key", "VAULT_TOKEN", "Unseal Key [0-9]{1,2}: ([A-Za-z0-9+/]{43,44}={0,2})", ["Unseal Key 1: ", ("b", 44)],
  name="VAULT_UNSEAL", end=False)
P("secret.atlassian.bitbucket_token", "BITBUCKET_TOKEN", "ATCTT3xFfGN0[A-Za-z0-9_=-]{160,200}", ["ATCTT3xFfGN0", ("w", 180)], name="BITBUCKET_TOKEN")
P("secret.azure.sas_token", "AZURE_SAS_TOKEN", "sig=([A-Za-z0-9%]{43,60}(?:%3D|=))", ["sig=", ("a", 43), "%3D"], name="AZURE_SAS", end=False, ent=3.5,
  desc="the signature of an Azure shared access signature URL")
P("secret.azure.function_key", "AZURE_FUNCTION_KEY", "[?&]code=([A-Za-z0-9_-]{44,56}==)", ["?code=", ("w", 52), "=="], name="AZURE_FUNCTION_URL", end=False, ent=3.5)
P("secret.azure.cosmosdb_key", "AZURE_COSMOS_KEY", "AccountEndpoint=https://[a-z0-9-]{3,44}\\.documents\\.azure\\.com:443/;AccountKey=([A-Za-z0-9+/]{86}==)",
  ["AccountEndpoint=https://acme-db.documents.azure.com:443/;AccountKey=", ("b", 86), "=="], name="COSMOS_CONNECTION", end=False)
P("secret.azure.apim_key", "AZURE_APIM_KEY", "Ocp-Apim-Subscription-Key[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9]{32})", ["Ocp-Apim-Subscription-Key: ", ("h", 32)],
  name="APIM", desc="the API Management subscription header")
P("secret.azure.search_key", "AZURE_SEARCH_KEY", "[A-Za-z0-9]{42}AzSe[A-Za-z0-9]{6}", [("a", 42), "AzSe", ("a", 6)], name="AZURE_SEARCH_ADMIN_KEY",
  desc="AzSe marker is the gate (an inner literal)")
P("secret.azure.cognitive_key", "AZURE_AI_KEY", "[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{3}ACOG[A-Za-z0-9]{4}", [("a", 52), "JQQJ99", ("a", 3), "ACOG", ("a", 4)],
  name="AZURE_OPENAI_API_KEY", desc="JQQJ99...ACOG marker (an inner literal)")
P("secret.azure.apim_direct_key", "AZURE_APIM_KEY", "[A-Za-z0-9]{52}APIM[A-Za-z0-9]{28}", [("a", 52), "APIM", ("a", 28)], name="APIM_KEY", ent=3.5)
P("secret.microsoft.teams_webhook", "TEAMS_WEBHOOK", "https://[a-z0-9-]+\\.webhook\\.office\\.com/webhookb2/[a-f0-9-]{36}@[a-f0-9-]{36}/IncomingWebhook/[A-Za-z0-9]{32}/[a-f0-9-]{36}",
  ["https://acme.webhook.office.com/webhookb2/", ("uuid",), "@", ("uuid",), "/IncomingWebhook/", ("a", 32), "/", ("uuid",)], name="TEAMS_WEBHOOK")
P("secret.discord.webhook", "DISCORD_WEBHOOK", "https://(?:ptb\\.|canary\\.)?discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,70}",
  ["https://discord.com/api/webhooks/", ("d", 18), "/", ("w", 68)], name="DISCORD_WEBHOOK")
P("secret.discord.bot_token", "DISCORD_TOKEN", "[MNO][A-Za-z0-9_-]{23,25}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38}", ["M", ("a", 25), ".", ("w", 6), ".", ("w", 38)],
  name="DISCORD_BOT_TOKEN", ent=4.0, desc="literal-free: runs in the shared set; entropy and shape keep it narrow")
P("secret.zapier.webhook", "ZAPIER_WEBHOOK", "https://(?:www\\.)?hooks\\.zapier\\.com/hooks/catch/[0-9]{5,10}/[a-z0-9]{6,8}/", ["https://hooks.zapier.com/hooks/catch/", ("d", 7), "/", ("l", 7), "/"],
  name="ZAPIER_HOOK", end=False, ent=3.0)
P("secret.google.chat_webhook", "GOOGLE_CHAT_WEBHOOK", "https://chat\\.googleapis\\.com/v1/spaces/[A-Za-z0-9_-]{11}/messages\\?key=[A-Za-z0-9_-]{39}&token=[A-Za-z0-9_%=-]{40,50}",
  ["https://chat.googleapis.com/v1/spaces/", ("w", 11), "/messages?key=", ("w", 39), "&token=", ("w", 43)], name="GCHAT_WEBHOOK", end=False)
P("secret.gcp.oauth_refresh_token", "GOOGLE_OAUTH_TOKEN", "1//0[A-Za-z0-9_-]{60,120}", ["1//0", ("w", 95)], name="GOOGLE_REFRESH_TOKEN", ent=4.0, end=False)
P("secret.google.oauth_client_id", "GOOGLE_OAUTH_CLIENT_ID", "[0-9]{10,13}-[a-z0-9]{32}\\.apps\\.googleusercontent\\.com",
  [("d", 12), "-", ("l", 32), ".apps.googleusercontent.com"], name="GOOGLE_CLIENT_ID", score=0.6, end=False)
P("secret.firebase.fcm_server_key", "FIREBASE_KEY", "AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}", ["AAAA", ("w", 7), ":APA91b", ("w", 134)], name="FCM_SERVER_KEY")
P("secret.mailgun.pub_key", "MAILGUN_KEY", "pubkey-[a-f0-9]{32}", ["pubkey-", ("h", 32)], name="MAILGUN_PUBLIC_KEY", score=0.6)
P("secret.lob.api_key", "LOB_API_KEY", "(?:live|test)_(?:pub_)?[a-f0-9]{31,35}", ["live_", ("h", 35)], name="LOB_API_KEY")
P("secret.stripe.webhook_secret", "STRIPE_WEBHOOK_SECRET", "whsec_[A-Za-z0-9]{32,64}", ["whsec_", ("a", 32)], name="STRIPE_WEBHOOK_SECRET")
P("secret.stripe.publishable_key", "STRIPE_KEY", "pk_(?:live|test)_[A-Za-z0-9]{20,247}", ["pk_live_", ("a", 99)], name="STRIPE_PUBLISHABLE_KEY", score=0.4)
P("secret.razorpay.key", "RAZORPAY_KEY", "rzp_(?:live|test)_[A-Za-z0-9]{14}", ["rzp_live_", ("a", 14)], name="RAZORPAY_KEY_ID")
P("secret.paypal.braintree_token", "BRAINTREE_TOKEN", "access_token\\$(?:production|sandbox)\\$[0-9a-z]{16}\\$[0-9a-f]{32}",
  ["access_token$production$", ("l", 16), "$", ("h", 32)], name="BRAINTREE_ACCESS_TOKEN")
P("secret.square.oauth_secret", "SQUARE_TOKEN", "sq0csp-[A-Za-z0-9_-]{43}", ["sq0csp-", ("w", 43)], name="SQUARE_OAUTH_SECRET")
P("secret.coinbase.cdp_key", "COINBASE_KEY", "organizations/[a-f0-9-]{36}/apiKeys/[a-f0-9-]{36}", ["organizations/", ("uuid",), "/apiKeys/", ("uuid",)],
  name="COINBASE_API_KEY_NAME", score=0.6)
P("secret.huggingface.org_token", "HUGGINGFACE_TOKEN", "api_org_[A-Za-z]{34}", ["api_org_", ("U", 10), ("L", 24)], name="HF_ORG_TOKEN")
P("secret.replicate.token", "REPLICATE_TOKEN", "r8_[A-Za-z0-9]{37}", ["r8_", ("a", 37)], name="REPLICATE_API_TOKEN")
P("secret.deepseek.api_key", "DEEPSEEK_API_KEY", "sk-[a-f0-9]{32}", ["sk-", ("h", 32)], name="DEEPSEEK_API_KEY", ent=3.3)
P("secret.xai.api_key", "XAI_API_KEY", "xai-[A-Za-z0-9]{80}", ["xai-", ("a", 80)], name="XAI_API_KEY")
P("secret.langsmith.api_key", "LANGSMITH_API_KEY", "lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", ["lsv2_pt_", ("h", 32), "_", ("h", 10)], name="LANGSMITH_API_KEY")
P("secret.anthropic.admin_key", "ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-[A-Za-z0-9_-]{93}AA", ["sk-ant-admin01-", ("w", 93), "AA"], name="ANTHROPIC_ADMIN_KEY")
P("secret.openrouter.api_key", "OPENROUTER_API_KEY", "sk-or-v1-[a-f0-9]{64}", ["sk-or-v1-", ("h", 64)], name="OPENROUTER_API_KEY")
P("secret.tavily.api_key", "TAVILY_API_KEY", "tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}", ["tvly-dev-", ("a", 32)], name="TAVILY_API_KEY")
P("secret.pinecone.api_key", "PINECONE_API_KEY", "pcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70}", ["pcsk_", ("a", 6), "_", ("a", 63)], name="PINECONE_API_KEY")
P("secret.langfuse.secret_key", "LANGFUSE_KEY", "sk-lf-[a-f0-9-]{36}", ["sk-lf-", ("uuid",)], name="LANGFUSE_SECRET_KEY")
P("secret.fireworks.api_key", "FIREWORKS_API_KEY", "fw_[A-Za-z0-9]{24}", ["fw_", ("a", 24)], name="FIREWORKS_API_KEY", ent=3.5)
P("secret.nvidia.api_key", "NVIDIA_API_KEY", "nvapi-[A-Za-z0-9_-]{64}", ["nvapi-", ("w", 64)], name="NVIDIA_API_KEY")
P("secret.elevenlabs.api_key", "ELEVENLABS_API_KEY", "sk_[a-f0-9]{48}", ["sk_", ("h", 48)], name="ELEVENLABS_API_KEY", ent=3.3)
P("secret.assemblyai.key", "ASSEMBLYAI_KEY", "(?:assemblyai|ASSEMBLYAI|AssemblyAI)[A-Za-z0-9_.-]{0,24}[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9]{32})",
  ["ASSEMBLYAI_API_KEY=", ("h", 32)], name="x", desc="keyword-gated")
P("secret.buildkite.token", "BUILDKITE_TOKEN", "bkua_[a-f0-9]{40}", ["bkua_", ("h", 40)], name="BUILDKITE_API_TOKEN")
P("secret.circleci.token", "CIRCLECI_TOKEN", "CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}", ["CCIPAT_", ("a", 22), "_", ("h", 40)], name="CIRCLE_TOKEN")
P("secret.fastly.token_prefixed", "FASTLY_TOKEN", "fastly_(?:token|api)[_=:\"' \\t]{1,4}([A-Za-z0-9_-]{32})", ["fastly_token=", ("w", 32)], name="x")
P("secret.terraform.cloud_token", "TERRAFORM_TOKEN", "[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,70}", [("a", 14), ".atlasv1.", ("w", 67)], name="TFE_TOKEN",
  desc="atlasv1 is the gate (an inner literal)")
P("secret.hashicorp.consul_token", "CONSUL_TOKEN", "(?:CONSUL_HTTP_TOKEN|consul_token|X-Consul-Token)[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9-]{36})", ["CONSUL_HTTP_TOKEN=", ("uuid",)], name="x")
P("secret.nomad.token", "NOMAD_TOKEN", "(?:NOMAD_TOKEN|X-Nomad-Token)[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9-]{36})", ["NOMAD_TOKEN=", ("uuid",)], name="x")
P("secret.jfrog.identity_token", "JFROG_TOKEN", "eyJ2ZXIiOiIyIiwidHlwIjoiSldUIiwiYWxnIjoiUlMyNTYiLCJraWQiOi[A-Za-z0-9_.-]{100,}",
  ["eyJ2ZXIiOiIyIiwidHlwIjoiSldUIiwiYWxnIjoiUlMyNTYiLCJraWQiOi", ("w", 160)], name="JFROG_ACCESS_TOKEN", end=False)
P("secret.netlify.token", "NETLIFY_TOKEN", "nfp_[A-Za-z0-9]{36}", ["nfp_", ("a", 36)], name="NETLIFY_AUTH_TOKEN")
P("secret.vercel.token", "VERCEL_TOKEN", "vc[kpiar]_[A-Za-z0-9]{56}", ["vcp_", ("a", 56)], name="VERCEL_TOKEN")
P("secret.supabase.secret_key", "SUPABASE_KEY", "sb_secret_[A-Za-z0-9_-]{31}", ["sb_secret_", ("w", 31)], name="SUPABASE_SECRET_KEY")
P("secret.supabase.pat", "SUPABASE_TOKEN", "sbp_[a-f0-9]{40}", ["sbp_", ("h", 40)], name="SUPABASE_ACCESS_TOKEN")
P("secret.render.api_key", "RENDER_API_KEY", "rnd_[A-Za-z0-9]{32}", ["rnd_", ("a", 32)], name="RENDER_API_KEY")
P("secret.railway.token", "RAILWAY_TOKEN", "(?:RAILWAY_TOKEN|RAILWAY_API_TOKEN)[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9-]{36})", ["RAILWAY_TOKEN=", ("uuid",)], name="x")
P("secret.cloudflare.api_token_prefixed", "CLOUDFLARE_API_TOKEN", "(?:CLOUDFLARE_API_TOKEN|CF_API_TOKEN)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_-]{40})",
  ["CF_API_TOKEN=", ("w", 40)], name="x")
P("secret.shopify.storefront_token", "SHOPIFY_TOKEN", "shpsa_[a-fA-F0-9]{32}", ["shpsa_", ("h", 32)], name="SHOPIFY_TOKEN")
P("secret.contentful.pat", "CONTENTFUL_TOKEN", "CFPAT-[A-Za-z0-9_-]{43}", ["CFPAT-", ("w", 43)], name="CONTENTFUL_MANAGEMENT_TOKEN")
P("secret.figma.pat", "FIGMA_TOKEN", "figd_[A-Za-z0-9_-]{40}", ["figd_", ("w", 40)], name="FIGMA_TOKEN")
P("secret.asana.pat", "ASANA_TOKEN", "[12]/[0-9]{12,16}/[0-9]{12,16}:[a-f0-9]{32}", ["1/", ("d", 16), "/", ("d", 16), ":", ("h", 32)], name="ASANA_TOKEN", ent=3.0,
  desc="literal-free: runs in the shared set")
P("secret.clickup.token", "CLICKUP_TOKEN", "pk_[0-9]{6,10}_[A-Z0-9]{32}", ["pk_", ("d", 8), "_", ("u", 32)], name="CLICKUP_API_TOKEN")
P("secret.monday.token", "MONDAY_TOKEN", "eyJhbGciOiJIUzI1NiJ9\\.eyJ0aWQiOj[A-Za-z0-9_-]{50,300}\\.[A-Za-z0-9_-]{43}",
  ["eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOj", ("w", 120), ".", ("w", 43)], name="MONDAY_API_TOKEN", end=False)
P("secret.trello.key", "TRELLO_TOKEN", "ATTA[a-f0-9]{64}[A-F0-9]{8}", ["ATTA", ("h", 64), ("X", 8)], name="TRELLO_TOKEN")
P("secret.postmark.token", "POSTMARK_TOKEN", "(?:X-Postmark-Server-Token|POSTMARK_API_TOKEN|postmark_token)[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9-]{36})",
  ["X-Postmark-Server-Token: ", ("uuid",)], name="x")
P("secret.resend.api_key", "RESEND_API_KEY", "re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}", ["re_", ("a", 8), "_", ("a", 24)], name="RESEND_API_KEY")
P("secret.mailersend.token", "MAILERSEND_TOKEN", "mlsn\\.[a-f0-9]{64}", ["mlsn.", ("h", 64)], name="MAILERSEND_API_TOKEN")
P("secret.sparkpost.key", "SPARKPOST_KEY", "(?:SPARKPOST_API_KEY|sparkpost_api_key)[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9]{40})", ["SPARKPOST_API_KEY=", ("h", 40)], name="x")
P("secret.plivo.auth", "PLIVO_TOKEN", "(?:PLIVO_AUTH_TOKEN|plivo_auth_token)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9]{40})", ["PLIVO_AUTH_TOKEN=", ("a", 40)], name="x")
P("secret.vonage.secret", "VONAGE_SECRET", "(?:VONAGE_API_SECRET|NEXMO_API_SECRET|vonage_api_secret|nexmo_api_secret)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9]{16})",
  ["NEXMO_API_SECRET=", ("a", 16)], name="x")
P("secret.launchdarkly.sdk_key", "LAUNCHDARKLY_KEY", "(?:sdk|api|mob)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
  ["sdk-", ("uuid",)], name="LAUNCHDARKLY_SDK_KEY", score=0.7)
P("secret.segment.write_key", "SEGMENT_TOKEN", "sgp_[A-Za-z0-9]{64}", ["sgp_", ("a", 64)], name="SEGMENT_PUBLIC_API_TOKEN")
P("secret.posthog.personal_key", "POSTHOG_KEY", "phx_[A-Za-z0-9]{43}", ["phx_", ("a", 43)], name="POSTHOG_PERSONAL_API_KEY")
P("secret.sumologic.access_id", "SUMOLOGIC_KEY", "(?:SUMO_ACCESS_ID|sumo_access_id|SUMOLOGIC_ACCESSID)[\"']?[ \\t]*[:=][ \\t]*[\"']?(su[A-Za-z0-9]{12})", ["SUMO_ACCESS_ID=su", ("a", 12)], name="x")
P("secret.honeycomb.key", "HONEYCOMB_KEY", "hcaik_[a-z0-9]{58}", ["hcaik_", ("l", 58)], name="HONEYCOMB_API_KEY")
P("secret.datadog.pat", "DATADOG_KEY", "ddapp_[A-Za-z0-9]{36}", ["ddapp_", ("a", 36)], name="DD_APP_KEY")
P("secret.grafana.cloud_access_policy", "GRAFANA_TOKEN", "glc_eyJ[A-Za-z0-9+/]{40,400}={0,3}", ["glc_eyJ", ("b", 120)], name="GRAFANA_CLOUD_TOKEN", end=False)
P("secret.elastic.api_key", "ELASTIC_KEY", "essu_[A-Za-z0-9+/]{60,120}={0,2}", ["essu_", ("b", 84)], name="EC_API_KEY", end=False)
P("secret.mongodb.atlas_key", "MONGODB_ATLAS_KEY", "mdb_sa_sk_[A-Za-z0-9_-]{40}", ["mdb_sa_sk_", ("w", 40)], name="MDB_SA_SECRET")
P("secret.redis.cloud_key", "REDIS_CLOUD_KEY", "(?:REDISCLOUD_SECRET_KEY|redis_cloud_secret)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9]{50,60})", ["REDISCLOUD_SECRET_KEY=", ("a", 55)], name="x")
P("secret.snowflake.connection", "SNOWFLAKE_PASSWORD", "snowflake://[A-Za-z0-9_.-]{1,64}:([^@/ \\t\\r\\n\"']{6,128})@[A-Za-z0-9_.-]+", ["snowflake://etl_user:", ("a", 16), "@acme-xy12345"],
  name="SNOWFLAKE_URL", end=False, ent=2.5)
P("secret.databricks.oauth_secret", "DATABRICKS_TOKEN", "dose[a-f0-9]{32}", ["dose", ("h", 32)], name="DATABRICKS_CLIENT_SECRET")
P("secret.confluent.api_secret", "CONFLUENT_SECRET", "cflt[A-Za-z0-9+/]{60}", ["cflt", ("b", 60)], name="CONFLUENT_CLOUD_API_SECRET", ent=4.0, end=False)
P("secret.upstash.token", "UPSTASH_TOKEN", "(?:UPSTASH_REDIS_REST_TOKEN|upstash_token)[\"']?[ \\t]*[:=][ \\t]*[\"']?(A[A-Za-z0-9_-]{50,100}=?)", ["UPSTASH_REDIS_REST_TOKEN=A", ("w", 60)], name="x")
P("secret.ngrok.token", "NGROK_TOKEN", "(?:NGROK_AUTHTOKEN|authtoken:|ngrok config add-authtoken)[ \\t=]*([0-9][A-Za-z0-9]{26}_[A-Za-z0-9]{21})",
  ["NGROK_AUTHTOKEN=", "2", ("a", 26), "_", ("a", 21)], name="x")
P("secret.tailscale.key", "TAILSCALE_KEY", "tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{10,20}-[A-Za-z0-9]{20,40}", ["tskey-auth-", ("a", 17), "-", ("a", 33)], name="TS_AUTHKEY")
P("secret.teleport.token", "TELEPORT_TOKEN", "(?:TELEPORT_AUTH_TOKEN|teleport_token)[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9]{32})", ["TELEPORT_AUTH_TOKEN=", ("h", 32)], name="x")
P("secret.jenkins.api_token", "JENKINS_TOKEN", "(?:JENKINS_API_TOKEN|jenkins_token|JENKINS_TOKEN)[\"']?[ \\t]*[:=][ \\t]*[\"']?(11[a-f0-9]{32})", ["JENKINS_API_TOKEN=11", ("h", 32)], name="x")
P("secret.travis.token", "TRAVIS_TOKEN", "(?:TRAVIS_TOKEN|travis_token|TRAVIS_API_TOKEN)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_-]{22})", ["TRAVIS_API_TOKEN=", ("w", 22)], name="x")
P("secret.codecov.token_prefixed", "CODECOV_TOKEN", "CODECOV_TOKEN[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9-]{36})", ["CODECOV_TOKEN=", ("uuid",)], name="x")
P("secret.opsgenie.key", "OPSGENIE_KEY", "(?:OPSGENIE_API_KEY|GenieKey)[\"']?[ \\t]*[:= ][ \\t]*[\"']?([a-f0-9-]{36})", ["Authorization: GenieKey ", ("uuid",)], name="x")
P("secret.okta.token", "OKTA_TOKEN", "(?:OKTA_API_TOKEN|okta_api_token|SSWS)[\"']?[ \\t]*[:= ][ \\t]*[\"']?(00[A-Za-z0-9_-]{40})", ["Authorization: SSWS ", "00", ("w", 40)], name="x")
P("secret.auth0.client_secret", "AUTH0_SECRET", "(?:AUTH0_CLIENT_SECRET|auth0_client_secret)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_-]{64})", ["AUTH0_CLIENT_SECRET=", ("w", 64)], name="x")
P("secret.wireguard.private_key", "WIREGUARD_KEY", "PrivateKey[ \\t]*=[ \\t]*([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)", ["PrivateKey = ", ("b", 42), "A="], name="x", end=False)
P("secret.ssh.password_sshpass", "PASSWORD", "sshpass[ \\t]+-p[ \\t]*[\"']?([^ \\t\\r\\n\"']{6,128})", ["sshpass -p '", ("a", 14), "'"], name="x", end=False, ent=2.5)
P("secret.mysql.cli_password", "PASSWORD", "mysql(?:dump|admin)?[ \\t][^\\r\\n]{0,120}?(?:[ \\t]-p|--password=)[\"']?([^ \\t\\r\\n\"'$-][^ \\t\\r\\n\"']{5,127})",
  ["mysql -h db.internal -u app -p", ("a", 14)], name="x", end=False, ent=2.5)
P("secret.docker.login_password", "PASSWORD", "docker[ \\t]+login[^\\r\\n]{0,200}?(?:[ \\t]-p|--password)[ \\t=]+[\"']?([^ \\t\\r\\n\"'$-][^ \\t\\r\\n\"']{5,127})",
  ["docker login -u ci -p ", ("a", 20), " registry.acme.dev"], name="x", end=False, ent=2.5)
P("secret.htpasswd.hash", "PASSWORD_HASH", "\\$(?:apr1|2[aby]|1|5|6|8)\\$[./A-Za-z0-9$=]{20,120}", ["$apr1$", ("a", 8), "$", ("a", 22)], name="x", end=False, ent=3.0, score=0.6,
  desc="htpasswd / shadow hashes: crackable offline")
P("secret.kubernetes.bootstrap_token", "K8S_TOKEN", "(?:--token|token:)[ \\t=]*[\"']?([a-z0-9]{6}\\.[a-z0-9]{16})(?:[^a-z0-9]|$)", ["kubeadm join cp.internal:6443 --token ", ("l", 6), ".", ("l", 16)],
  name="x", end=False, ent=3.0)
P("secret.kubernetes.kubeconfig_token", "K8S_TOKEN", "client-key-data:[ \\t]*([A-Za-z0-9+/]{60,}={0,2})", ["client-key-data: LS0tLS1CRUdJTi", ("b", 100)], name="x", end=False, ent=4.0)
P("secret.docker.config_auth", "DOCKER_AUTH", "\"auth\"[ \\t]*:[ \\t]*\"([A-Za-z0-9+/]{8,400}={0,2})\"", ["\"auth\": \"", ("b", 40), "\""], name="x", end=False, ent=3.5,
  desc="~/.docker/config.json: base64 user:password")
P("secret.npm.npmrc_auth", "NPM_TOKEN", "(?:_authToken|_auth|_password)[ \\t]*=[ \\t]*[\"']?([A-Za-z0-9+/=_-]{16,200})", ["//registry.npmjs.org/:_authToken=", ("w", 36)], name="x", end=False, ent=3.5)
P("secret.pypirc.password", "PASSWORD", "\\[(?:pypi|testpypi|distutils)\\][^\\[]{0,200}?password[ \\t]*[:=][ \\t]*([^ \\t\\r\\n]{8,256})", ["[pypi]\nusername = __token__\npassword = ", ("w", 40)],
  name="x", end=False, ent=3.0)
P("secret.nuget.config_password", "PASSWORD", "<add key=\"(?:ClearText)?Password\"[ \\t]+value=\"([^\"]{8,128})\"", ["<add key=\"ClearTextPassword\" value=\"", ("a", 16), "\" />"], name="x", end=False, ent=2.8)
P("secret.maven.settings_password", "PASSWORD", "<password>([^<$ \\t\\r\\n]{6,128})</password>", ["<server><id>nexus</id><username>ci</username><password>", ("a", 18), "</password></server>"],
  name="x", end=False, ent=2.8)
P("secret.gradle.properties_password", "PASSWORD", "(?:ossrhPassword|signing\\.password|nexusPassword|mavenPassword|artifactoryPassword)[ \\t]*=[ \\t]*([^ \\t\\r\\n]{6,128})",
  ["ossrhPassword=", ("a", 18)], name="x", end=False, ent=2.8)
P("secret.git.credential_url", "PASSWORD", "https://[A-Za-z0-9_.-]{1,64}:((?:gh[pousr]_|glpat-)?[A-Za-z0-9_-]{16,100})@(?:github\\.com|gitlab\\.com|bitbucket\\.org)",
  ["https://ci-bot:", ("a", 24), "@github.com"], name="x", end=False, ent=3.0, desc="~/.git-credentials")
P("secret.rails.master_key", "RAILS_MASTER_KEY", "RAILS_MASTER_KEY[\"']?[ \\t]*[:=][ \\t]*[\"']?([a-f0-9]{32})", ["RAILS_MASTER_KEY=", ("h", 32)], name="x")
P("secret.django.secret_key", "DJANGO_SECRET_KEY", "SECRET_KEY[ \\t]*=[ \\t]*[\"']django-insecure-([^\"'\\s]{40,60})[\"']", ["SECRET_KEY = 'django-insecure-", ("w", 50), "'"], name="x", end=False, score=0.6,
  desc="Django's generated development key")
P("secret.laravel.app_key", "LARAVEL_APP_KEY", "APP_KEY[ \\t]*=[ \\t]*[\"']?base64:([A-Za-z0-9+/]{43}=)", ["APP_KEY=base64:", ("b", 43), "="], name="x", end=False)
P("secret.symfony.app_secret", "SYMFONY_SECRET", "APP_SECRET[ \\t]*=[ \\t]*[\"']?([a-f0-9]{32})", ["APP_SECRET=", ("h", 32)], name="x")
P("secret.jwt.secret_env", "JWT_SECRET", "JWT_SECRET(?:_KEY)?[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_+/=.-]{16,256})", ["JWT_SECRET=", ("w", 40)], name="x", ent=3.5)
P("secret.nextauth.secret", "NEXTAUTH_SECRET", "(?:NEXTAUTH_SECRET|AUTH_SECRET)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_+/=-]{32,128})", ["NEXTAUTH_SECRET=", ("b", 43), "="], name="x", ent=3.5, end=False)
P("secret.session.secret", "SESSION_SECRET", "(?:SESSION_SECRET|COOKIE_SECRET|SECRET_KEY_BASE|secret_key_base)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_+/=-]{32,256})", ["SECRET_KEY_BASE=", ("h", 128)],
  name="x", ent=3.5, end=False)
P("secret.encryption.key_env", "ENCRYPTION_KEY", "(?:ENCRYPTION_KEY|ENCRYPT_KEY|MASTER_KEY|AES_KEY|SIGNING_KEY|HMAC_KEY|CRYPT_KEY)[\"']?[ \\t]*[:=][ \\t]*[\"']?([A-Za-z0-9_+/=-]{24,256})",
  ["ENCRYPTION_KEY=", ("b", 43), "="], name="x", ent=3.5, end=False)
P("secret.ansible.vault", "ANSIBLE_VAULT", "\\$ANSIBLE_VAULT;1\\.[12];AES256(?:;[A-Za-z0-9_-]+)?[ \\t]*\\r?\\n[ \\t]*([0-9a-f]{64,}(?:\\r?\\n[ \\t]*[0-9a-f]{2,})*)",
  ["$ANSIBLE_VAULT;1.1;AES256\n", ("h", 80), "\n", ("h", 80)], name="x", end=False, score=0.6, desc="encrypted, but the key may be weak")

# ---------------------------------------------------------------- keyword-gated provider values
K("secret.twitter.api_key", "TWITTER_KEY", ["twitter"], "[A-Za-z0-9]{25}", [("a", 25)], ent=3.5)
K("secret.twitter.api_secret", "TWITTER_KEY", ["twitter"], "[A-Za-z0-9]{50}", [("a", 50)], ent=3.8)
K("secret.twitter.access_token", "TWITTER_KEY", ["twitter"], "[0-9]{15,25}-[A-Za-z0-9]{20,40}", [("d", 19), "-", ("a", 30)], ent=3.5)
K("secret.twitter.access_secret", "TWITTER_KEY", ["twitter"], "[A-Za-z0-9]{45}", [("a", 45)], ent=3.8)
K("secret.twitter.bearer_token", "TWITTER_KEY", ["twitter"], "A{22}[A-Za-z0-9%]{80,100}", ["A" * 22, ("a", 90)], ent=3.0)
K("secret.cloudflare.api_key", "CLOUDFLARE_API_KEY", ["cloudflare"], "[A-Za-z0-9_-]{40}", [("w", 40)], ent=3.8)
K("secret.cloudflare.global_api_key", "CLOUDFLARE_API_KEY", ["cloudflare"], "[a-f0-9]{37}", [("h", 37)], ent=3.2)
K("secret.messagebird.api_key", "MESSAGEBIRD_KEY", ["messagebird", "message_bird", "message-bird"], "[A-Za-z0-9]{25}", [("a", 25)], ent=3.5, camel="MessageBird")
K("secret.messagebird.client_id", "MESSAGEBIRD_KEY", ["messagebird", "message_bird", "message-bird"], "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
  [("uuid",)], ent=3.0, camel="MessageBird")
K("secret.snyk.api_token", "SNYK_TOKEN", ["snyk"], "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", [("uuid",)], ent=3.0)
K("secret.sonar.api_token", "SONAR_TOKEN", ["sonar"], "(?:squ_|sqp_|sqa_)?[a-z0-9]{40}", [("l", 40)], ent=3.5, camel="SonarQube")
K("secret.telegram.bot_token_ctx", "TELEGRAM_BOT_TOKEN", ["telegram", "telegr"], "[0-9]{5,16}:A[A-Za-z0-9_-]{34}", [("d", 10), ":A", ("w", 34)], ent=3.5)
K("secret.twilio.auth_token_ctx", "TWILIO_TOKEN", ["twilio"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.twilio.api_key_ctx", "TWILIO_TOKEN", ["twilio"], "SK[a-fA-F0-9]{32}", ["SK", ("h", 32)], ent=3.2)
K("secret.vault.service_token_legacy", "VAULT_TOKEN", ["vault"], "s\\.[A-Za-z0-9]{24}", ["s.", ("a", 24)], ent=3.5)
P("secret.azure.storage_key_dotnet", "AZURE_STORAGE_KEY", "StorageSharedKeyCredential\\([ \\t]*\"[^\"]{1,64}\"[ \\t]*,[ \\t]*\"([A-Za-z0-9+/]{86}==)\"",
  ["new StorageSharedKeyCredential(\"acmelogs\", \"", ("b", 86), "==\")"], name="x", end=False, ent=4.5, desc="the .NET SDK's shared-key credential")
K("secret.azure.storage_key_ctx", "AZURE_STORAGE_KEY", ["account-key", "account_key", "accountkey", "storage_key", "storage-key", "storagekey"],
  "[A-Za-z0-9+/]{86}==", [("b", 86), "=="], ent=4.5, cls="b", camel="AccountKey")
K("secret.adafruit.api_key", "ADAFRUIT_KEY", ["adafruit"], "(?:aio_)?[A-Za-z0-9_-]{28,32}", ["aio_", ("a", 28)], ent=3.5)
K("secret.adobe.client_id", "ADOBE_CLIENT_ID", ["adobe"], "[a-f0-9]{32}", [("h", 32)], ent=3.0, score=0.6)
K("secret.airtable.api_key", "AIRTABLE_TOKEN", ["airtable"], "key[A-Za-z0-9]{14}", ["key", ("a", 14)], ent=3.3)
K("secret.algolia.api_key", "ALGOLIA_KEY", ["algolia"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.alibaba.secret_key", "ALIBABA_SECRET", ["alibaba", "aliyun"], "[A-Za-z0-9]{30}", [("a", 30)], ent=3.8)
K("secret.asana.client_secret", "ASANA_TOKEN", ["asana"], "[a-z0-9]{32}", [("l", 32)], ent=3.5)
K("secret.beamer.token", "BEAMER_TOKEN", ["beamer"], "b_[A-Za-z0-9=_-]{44}", ["b_", ("w", 44)], ent=3.8)
K("secret.bitbucket.client_secret", "BITBUCKET_TOKEN", ["bitbucket"], "[A-Za-z0-9=_-]{64}", [("w", 64)], ent=4.0)
K("secret.bittrex.key", "BITTREX_KEY", ["bittrex"], "[a-z0-9]{32}", [("l", 32)], ent=3.5)
K("secret.meraki.api_key", "MERAKI_KEY", ["meraki"], "[a-f0-9]{40}", [("h", 40)], ent=3.3)
K("secret.codecov.token", "CODECOV_TOKEN", ["codecov"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.cohere.api_key", "COHERE_KEY", ["cohere", "co_api_key"], "[A-Za-z0-9]{40}", [("a", 40)], ent=3.8)
K("secret.coinbase.token", "COINBASE_KEY", ["coinbase"], "[A-Za-z0-9_-]{64}", [("w", 64)], ent=4.0)
K("secret.confluent.key", "CONFLUENT_SECRET", ["confluent"], "[A-Za-z0-9]{16}", [("u", 16)], ent=3.2)
K("secret.contentful.token", "CONTENTFUL_TOKEN", ["contentful"], "[A-Za-z0-9=_-]{43}", [("w", 43)], ent=3.8)
K("secret.datadog.access_token", "DATADOG_KEY", ["datadog"], "[a-z0-9]{40}", [("l", 40)], ent=3.5)
K("secret.discord.client_secret", "DISCORD_TOKEN", ["discord"], "[A-Za-z0-9=_-]{32}", [("w", 32)], ent=3.8)
K("secret.droneci.token", "DRONE_TOKEN", ["droneci", "drone_token"], "[A-Za-z0-9]{32}", [("a", 32)], ent=3.8)
K("secret.dropbox.token", "DROPBOX_TOKEN", ["dropbox"], "(?:sl\\.[A-Za-z0-9_=-]{130,300}|[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43})", ["sl.", ("w", 140)], ent=4.0)
K("secret.etsy.token", "ETSY_TOKEN", ["etsy"], "[a-z0-9]{24}", [("l", 24)], ent=3.5)
K("secret.facebook.secret", "FACEBOOK_TOKEN", ["facebook"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.fastly.token", "FASTLY_TOKEN", ["fastly"], "[A-Za-z0-9=_-]{32}", [("w", 32)], ent=3.8)
K("secret.finicity.secret", "FINICITY_TOKEN", ["finicity"], "[a-z0-9]{20}", [("l", 20)], ent=3.3)
K("secret.finnhub.token", "FINNHUB_TOKEN", ["finnhub"], "[a-z0-9]{20}", [("l", 20)], ent=3.3)
K("secret.flickr.token", "FLICKR_TOKEN", ["flickr"], "[a-z0-9]{32}", [("l", 32)], ent=3.5)
K("secret.freshbooks.token", "FRESHBOOKS_TOKEN", ["freshbooks"], "[a-z0-9]{64}", [("l", 64)], ent=3.8)
K("secret.gitter.token", "GITTER_TOKEN", ["gitter"], "[a-z0-9_-]{40}", [("l", 40)], ent=3.5)
K("secret.hubspot.api_key", "HUBSPOT_KEY", ["hubspot"], "(?:pat-(?:na|eu)1-)?[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}",
  [("uuid", True)], ent=3.0, cls="h")
K("secret.intercom.token", "INTERCOM_TOKEN", ["intercom"], "[A-Za-z0-9=_-]{60}", [("w", 60)], ent=4.0)
K("secret.jfrog.api_key", "JFROG_TOKEN", ["jfrog", "artifactory", "bintray", "xray"], "[A-Za-z0-9]{73}", [("a", 73)], ent=4.0)
K("secret.kraken.token", "KRAKEN_KEY", ["kraken"], "[A-Za-z0-9/=_+-]{80,90}", [("b", 86)], ent=4.2, cls="b")
K("secret.kucoin.token", "KUCOIN_KEY", ["kucoin"], "[a-f0-9]{24}", [("h", 24)], ent=2.8)
K("secret.launchdarkly.token", "LAUNCHDARKLY_KEY", ["launchdarkly"], "[A-Za-z0-9=_-]{40}", [("w", 40)], ent=3.8)
K("secret.linear.client_secret", "LINEAR_API_KEY", ["linear"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.linkedin.client_secret", "LINKEDIN_SECRET", ["linkedin", "linked_in", "linked-in"], "[A-Za-z0-9]{16}", [("a", 16)], ent=3.3, camel="LinkedIn")
K("secret.looker.client_secret", "LOOKER_SECRET", ["looker"], "[A-Za-z0-9]{24}", [("a", 24)], ent=3.5)
K("secret.mailchimp.api_key_ctx", "MAILCHIMP_KEY", ["mailchimp"], "[a-f0-9]{32}-us[0-9]{1,2}", [("h", 32), "-us21"], ent=3.2)
K("secret.mailgun.signing_key", "MAILGUN_KEY", ["mailgun"], "[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8}", [("h", 32), "-", ("h", 8), "-", ("h", 8)], ent=3.2)
K("secret.mattermost.token", "MATTERMOST_TOKEN", ["mattermost"], "[a-z0-9]{26}", [("l", 26)], ent=3.5)
K("secret.netlify.access_token", "NETLIFY_TOKEN", ["netlify"], "[A-Za-z0-9=_-]{40,46}", [("w", 43)], ent=3.8)
K("secret.newrelic.user_api_id", "NEWRELIC_KEY", ["newrelic", "new_relic", "new-relic"], "[a-z0-9]{64}", [("l", 64)], ent=3.8, camel="NewRelic")
K("secret.nytimes.token", "NYTIMES_TOKEN", ["nytimes", "newyorktimes"], "[A-Za-z0-9=_-]{32}", [("w", 32)], ent=3.8)
K("secret.okta.token_ctx", "OKTA_TOKEN", ["okta"], "00[A-Za-z0-9=_-]{40}", ["00", ("w", 40)], ent=3.8)
K("secret.plaid.secret", "PLAID_SECRET", ["plaid"], "(?:access-(?:sandbox|development|production)-[a-f0-9-]{36}|[a-z0-9]{30})", [("l", 30)], ent=3.5)
K("secret.privateai.token", "PRIVATEAI_TOKEN", ["privateai", "private_ai", "private-ai"], "[a-z0-9]{32}", [("l", 32)], ent=3.5, camel="PrivateAI")
K("secret.rapidapi.token", "RAPIDAPI_KEY", ["rapidapi"], "[A-Za-z0-9_-]{50}", [("w", 50)], ent=4.0, camel="RapidAPI")
K("secret.sendbird.token", "SENDBIRD_TOKEN", ["sendbird"], "[a-f0-9]{40}", [("h", 40)], ent=3.3)
K("secret.sentry.access_token", "SENTRY_TOKEN", ["sentry"], "[a-f0-9]{64}", [("h", 64)], ent=3.5)
K("secret.sentry.dsn", "SENTRY_DSN", ["sentry"], "https://[a-f0-9]{32}@[a-z0-9.-]{1,100}/[0-9]{1,12}", ["https://", ("h", 32), "@o12345.ingest.sentry.io/", ("d", 7)], ent=3.5, score=0.6)
K("secret.squarespace.token", "SQUARESPACE_TOKEN", ["squarespace"], "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", [("uuid",)], ent=3.0)
K("secret.sumologic.token", "SUMOLOGIC_KEY", ["sumo"], "[A-Za-z0-9]{64}", [("a", 64)], ent=4.0)
K("secret.twitch.token", "TWITCH_TOKEN", ["twitch"], "[a-z0-9]{30}", [("l", 30)], ent=3.5)
K("secret.yandex.api_key", "YANDEX_KEY", ["yandex"], "(?:AQVN[A-Za-z0-9_-]{35,38}|YC[A-Za-z0-9_-]{38}|t1\\.[A-Za-z0-9_-]+={0,2}\\.[A-Za-z0-9_-]{86}={0,2})", ["AQVN", ("w", 36)], ent=3.8)
K("secret.zendesk.token", "ZENDESK_TOKEN", ["zendesk"], "[A-Za-z0-9]{40}", [("a", 40)], ent=3.8)
K("secret.gocardless.token", "GOCARDLESS_TOKEN", ["gocardless"], "live_[A-Za-z0-9_=-]{40}", ["live_", ("w", 40)], ent=3.8)
K("secret.heroku.api_key_ctx", "HEROKU_API_KEY", ["heroku"], "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", [("uuid",)], ent=3.0)
K("secret.mixpanel.secret", "MIXPANEL_SECRET", ["mixpanel"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.pagerduty.token_ctx", "PAGERDUTY_KEY", ["pagerduty"], "[A-Za-z0-9_+-]{20}", [("w", 20)], ent=3.5)
K("secret.salesforce.token", "SALESFORCE_TOKEN", ["salesforce", "sfdc"], "00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{80,100}", ["00D", ("a", 15), "!", ("a", 96)], ent=4.0)
K("secret.digitalocean.spaces_secret", "DIGITALOCEAN_TOKEN", ["spaces_secret", "spaces-secret", "do_spaces"], "[A-Za-z0-9/+]{43}", [("b", 43)], ent=4.0)
K("secret.box.token", "BOX_TOKEN", ["box_developer", "box_client_secret", "box_access_token"], "[A-Za-z0-9]{32}", [("a", 32)], ent=3.8)
K("secret.gitee.token", "GITEE_TOKEN", ["gitee"], "[a-f0-9]{32}", [("h", 32)], ent=3.0)
K("secret.mapbox.token_ctx", "MAPBOX_TOKEN", ["mapbox"], "[a-z]{2}\\.[A-Za-z0-9]{60}\\.[A-Za-z0-9_-]{22}", ["sk.", ("a", 60), ".", ("w", 22)], ent=4.0)
K("secret.shodan.key", "SHODAN_KEY", ["shodan"], "[A-Za-z0-9]{32}", [("a", 32)], ent=3.8)
K("secret.virustotal.key", "VIRUSTOTAL_KEY", ["virustotal"], "[a-f0-9]{64}", [("h", 64)], ent=3.5, camel="VirusTotal")
K("secret.weather.key", "WEATHER_KEY", ["openweather", "owm_api_key"], "[a-f0-9]{32}", [("h", 32)], ent=3.0, camel="OpenWeather")

# ---------------------------------------------------------------- formats gitleaks' and noseyparker's
# rule examples showed missing (tests/it/secrets_eval.rs, per upstream type); appended last so the
# seed's earlier draws, and so every rule above, keep their generated values.
P("secret.dtrack.api_key", "DTRACK_API_KEY", "odt_[A-Za-z0-9]{32,40}", ["odt_", ("a", 32)], name="DTRACK_API_KEY", ent=3.5)
P("secret.microsoft.teams_webhook_legacy", "TEAMS_WEBHOOK",
  "https://outlook\\.office(?:365)?\\.com/webhook/[a-f0-9-]{36}@[a-f0-9-]{36}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9-]{36}",
  ["https://outlook.office.com/webhook/", ("uuid",), "@", ("uuid",), "/IncomingWebhook/", ("h", 32), "/", ("uuid",)], name="TEAMS_WEBHOOK_URL")
P("secret.twitch.stream_key", "TWITCH_STREAM_KEY", "live_[0-9]{6,12}_[A-Za-z0-9]{30}", ["live_", ("d", 9), "_", ("a", 30)], name="TWITCH_STREAM_KEY", ent=3.5)
P("secret.jina.api_key", "JINA_API_KEY", "jina_[a-f0-9]{32}[A-Za-z0-9]{28}", ["jina_", ("h", 32), ("a", 28)], name="JINA_API_KEY", ent=3.5)
P("secret.cratesio.token", "CRATESIO_TOKEN", "cio[A-Za-z0-9]{32}", ["cio", ("a", 32)], name="CARGO_REGISTRY_TOKEN", ent=3.8)
P("secret.nuget.api_key", "NUGET_API_KEY", "oy2[a-z0-9]{43}", ["oy2", ("l", 43)], name="NUGET_API_KEY", ent=3.5)
P("secret.newrelic.admin_key", "NEWRELIC_KEY", "NRAA-[a-f0-9]{27}", ["NRAA-", ("h", 27)], name="NEW_RELIC_ADMIN_KEY")
P("secret.newrelic.pixie_key", "NEWRELIC_KEY", "px-(?:api|dep)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
  ["px-api-", ("uuid",)], name="PX_API_KEY")
P("secret.thingsboard.access_token", "THINGSBOARD_TOKEN", "thingsboard\\.cloud/api/v1/[a-z0-9]{20}", ["thingsboard.cloud/api/v1/", ("l", 20)],
  name="TB_DEVICE_URL", ent=3.0)
P("secret.kerberos.asrep_hash", "PASSWORD_HASH", "\\$krb5asrep\\$23\\$(?:[^:$ \\t\\r\\n]{1,128}:)?[a-f0-9]{32}\\$[a-f0-9]{64,2048}",
  ["$krb5asrep$23$", ("h", 32), "$", ("h", 160)], name="x", ent=3.0, score=0.6, desc="Kerberos AS-REP hashes: crackable offline")
P("secret.truenas.api_key", "TRUENAS_API_KEY", "login_with_api_key\"[^\\[]{0,40}\\[[ \\t\\r\\n]{0,16}\"([0-9]{1,4}-[A-Za-z0-9]{64})\"",
  ["{\"msg\": \"method\", \"method\": \"auth.login_with_api_key\", \"params\": [\"", ("d", 2), "-", ("a", 64), "\"]}"], name="x", end=False, ent=3.5)
P("secret.psexec.password", "PASSWORD", "(?:psexec|PsExec|PSEXEC|psExec)[^\\n]{0,200}? -u [^ \\t\\r\\n]{1,64} -p ([^ \\t\\r\\n]{1,64})",
  ["psexec \\\\host01 -u admin -p ", ("a", 12), " cmd"], name="x", end=False, ent=2.5, score=0.8)
P("secret.vmware.viserver_password", "PASSWORD", "(?:Connect-VIServer|connect-viserver)[^\\n]{0,200}? -[Pp]assword[ \\t]{1,16}[\"']?([^ \\t\\r\\n\"']{1,64})",
  ["Connect-VIServer -Server vc01 -User vcadmin -Password ", ("a", 12)], name="x", end=False, ent=2.5, score=0.8)
K("secret.kubernetes.bootstrap_token_ctx", "K8S_TOKEN", ["bootstrap"], "[a-z0-9]{6}\\.[a-z0-9]{16}", [("l", 6), ".", ("l", 16)], ent=3.0)
K("secret.thingsboard.provision_key", "THINGSBOARD_KEY", ["provisiondevice"], "[a-z0-9]{20}", [("l", 20)], ent=3.0, camel="provisionDevice")
K("secret.postmark.token_ctx", "POSTMARK_TOKEN", ["postmark"], "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", [("uuid",)], ent=3.0)
K("secret.facebook.app_token_ctx", "FACEBOOK_TOKEN", ["facebook"], "[0-9]{15,16}\\|[A-Za-z0-9_-]{27,40}", [("d", 15), "|", ("w", 27)], ent=3.5)




# ---------------------------------------------------------------- key=value formats (no provider)
# (type, template with {v}, value spec): secrets that only the generic, connection-string and
# Kubernetes rules can find. Written as the formats occur in real files.
FORMATS = [
    ("json", '{{"credentials" : "{v}"}}', [("h", 64)]),
    ("json", '{{\n  "service": "billing",\n  "api_secret": "{v}",\n  "region": "eu"\n}}', [("a", 40)]),
    ("json", '{{"auth_token":"{v}","ttl":3600}}', [("w", 48)]),
    ("yaml", "billing:\n  client_secret: {v}\n  timeout: 30\n", [("a", 32)]),
    ("yaml", "app:\n  secret_key: '{v}'\n", [("b", 43), "="]),
    ("yaml", "webhook:\n  signing_key: \"{v}\"\n", [("a", 44)]),
    ("toml", '[billing]\napi_key = "{v}"\nretries = 3\n', [("a", 36)]),
    ("toml", '[smtp]\nhost = "mail.internal"\npassword = "{v}"\n', [("a", 18)]),
    ("env", "DB_HOST=db.internal\nDB_PASSWORD={v}\nDB_PORT=5432\n", [("a", 20)]),
    ("env", "export SERVICE_TOKEN={v}\n", [("a", 48)]),
    ("env", "ACCESS_TOKEN=\"{v}\"\n", [("w", 40)]),
    ("cli", "deploy --api-key {v} --region eu-west-1", [("a", 32)]),
    ("cli", "curl -u admin:{v} https://ci.internal/api/json", [("a", 16)]),
    ("cli", "mysql -h db.internal -u root -p{v} app", [("a", 14)]),
    ("cli", "sshpass -p '{v}' ssh build.internal", [("a", 14)]),
    ("connection", "Server=sql01;Database=Billing;User ID=svc;Password={v};Encrypt=True", [("a", 16)]),
    ("connection", "DATABASE_URL=postgres://billing:{v}@db.internal:5432/billing", [("a", 20)]),
    ("connection", "mongodb+srv://etl:{v}@cluster0.x1y2z.mongodb.net/?retryWrites=true", [("a", 18)]),
    ("connection", "DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey={v};EndpointSuffix=core.windows.net", [("b", 86), "=="]),
    ("url", "pip install --index-url https://ci-bot:{v}@pypi.acme.dev/simple app", [("a", 20)]),
    ("url", "git remote add origin https://deploy:{v}@git.acme.dev/acme/app.git", [("a", 24)]),
    ("azure_cli", "az storage blob upload --account-name acmelogs --account-key {v} -f x.log", [("b", 86), "=="]),
    ("azure_cli", "storage:\n  account_key: {v}\n", [("b", 86), "=="]),
    ("azure_cli", 'services.AddAzureClients(b => b.AddBlobServiceClient(new Uri(u), new StorageSharedKeyCredential("acmelogs", "{v}")));', [("b", 86), "=="]),
    ("high_entropy", "hmac_salt = \"{v}\"", [("b", 40)]),
    ("high_entropy", "  partner_signature_key: {v}\n", [("a", 40)]),
]


def k8s_record(rng):
    import base64
    user = base64.b64encode(sample([("l", 8)], rng).encode()).decode()
    pw = base64.b64encode(sample([("a", 20)], rng).encode()).decode()
    head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: billing-db\ntype: Opaque\ndata:\n"
    text = head + f"  username: {user}\n  password: {pw}\n"
    ents = []
    for v in (user, pw):
        i = text.index(v)
        ents.append({"type": "k8s_secret", "start": i, "end": i + len(v)})
    return {"text": text, "entities": ents, "source": "picket:formats"}


def write_formats(rng):
    out = []
    for kind, tpl, spec in FORMATS:
        for _ in range(3):
            v = sample(spec, rng)
            text = tpl.format(v=v)
            i = text.index(v)
            out.append({"text": text, "entities": [{"type": kind, "start": i, "end": i + len(v)}], "source": "picket:formats"})
    for _ in range(4):
        out.append(k8s_record(rng))
    decoys = [
        "password: ${DB_PASSWORD}", "API_KEY=<your-api-key>", "token: xxxxxxxxxxxxxxxxxxxxxxxx",
        "DATABASE_URL=postgres://user:password@localhost:5432/app", "client_secret: {{ vault_client_secret }}",
        "kind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n  enabled: true\n", "secret_key = os.environ[\"SECRET_KEY\"]",
    ]
    for d in decoys:
        out.append({"text": d, "entities": [], "decoys": [{"type": "placeholder", "start": 0, "end": len(d)}], "source": "picket:formats"})
    return "\n".join(json.dumps(o, ensure_ascii=False) for o in out) + "\n"


# ---------------------------------------------------------------- writing
def toml_str(s):
    """A TOML basic string."""
    return json.dumps(s, ensure_ascii=False)


def py_pattern(p):
    return p.replace("(?-u:\\b)", "\\b")


def first_value(rule, rng):
    return sample(rule["spec"], rng)


def contexts_p(r, v, rng):
    name = r["name"] if r["name"] != "x" else None
    if name is None:
        # The spec already carries its own key name / context.
        return [v, f"  {v}\n", f"# config\n{v}\n", f"echo done; {v} # rotate me"]
    return [f"export {name}={v}", f'{{"{name.lower()}": "{v}"}}', f"{name.lower()}: {v}", f"the leaked token {v} was in the CI log"]


def contexts_k(r, v, rng):
    kw = r["kw"]
    return [f"{kw.upper()}_API_KEY={v}", f'{{"{kw}_secret": "{v}"}}', f"{kw}Token: '{v}'", f"--{kw}-token {v}"]


def no_matches(r, rng):
    spec = r["spec"]
    ph = placeholder(spec)
    out = []
    if r["ent"] > 0:
        out.append(ph)
    # Shorten the longest random part below any allowed length.
    longest = max((i for i, p in enumerate(spec) if not isinstance(p, str) and p[0] != "uuid"), key=lambda i: spec[i][1], default=None)
    if longest is not None and spec[longest][1] >= 5:
        cut = list(spec)
        cut[longest] = (spec[longest][0], 3)
        out.append(sample(cut, rng) + " (truncated)")
    uuids = [i for i, p in enumerate(spec) if not isinstance(p, str) and p[0] == "uuid"]
    if uuids:
        out.append(sample(spec, rng).replace("-", "", 1) + " (malformed)")
    lead = spec[0] if isinstance(spec[0], str) else ""
    out.append(f"tokens of this kind start with {lead.strip()[:12] or 'a provider prefix'}, see the docs")
    if r["kind"] == "K":
        kw = r["kw"]
        out = [f"{kw.upper()}_API_KEY={o}" for o in out]
        out.append(f"{kw} docs: rotate the key every 90 days, see {kw}.com/docs")
    return out


def fires(r, t):
    """What the Rust rule would do on `t`: regex, then the entropy validator on the finding."""
    rx = re.compile(py_pattern(r["pattern"]))
    for m in rx.finditer(t):
        g = m.group(1) if rx.groups else m.group(0)
        if r["stop"] and any(w in m.group(0).lower() for w in r["stop"]):
            continue  # stopwords are looked for in the whole match (detect/regex.rs)
        if g and (r["ent"] == 0 or entropy(g) >= r["ent"]):
            return True
    return False


def check(r, texts, expect):
    for t in texts:
        if fires(r, t) != expect:
            raise SystemExit(f"{r['id']}: {'no match' if expect else 'match'} on {t!r}")


def entropy(s):
    import math
    from collections import Counter
    c = Counter(s)
    return -sum(n / len(s) * math.log2(n / len(s)) for n in c.values())


def write_pack(rng):
    lines = [
        "# Picket shipped rule pack: provider credentials (gitleaks class). GENERATED by",
        "# scripts/gen_secret_providers.py from one table; edit the table, not this file.",
        "# Every rule is literal-gated: its pattern starts with (or, marked in the rule's description,",
        "# contains) a provider literal, so the regex runs only where that literal occurs.",
        "# Every key below is random and fake (generated from a fixed seed, never issued).",
        "",
        "[pack]",
        'id = "secrets-providers"',
        'version = "1.0.0"',
        'description = "Provider credentials: SaaS, CI, AI, payment and messaging API keys and tokens (gitleaks class)"',
        "",
    ]
    seen = set()
    for r in RULES:
        assert r["id"] not in seen, r["id"]
        seen.add(r["id"])
        vals = [first_value(r, rng) for _ in range(2)]
        ctx = contexts_p if r["kind"] == "P" else contexts_k
        matches = [ctx(r, vals[0], rng)[0], ctx(r, vals[1], rng)[1]]
        nos = [n for n in no_matches(r, rng) if not fires(r, n)]
        check(r, matches, True)
        if not nos:
            raise SystemExit(f"{r['id']}: no no_match example")
        r["examples"] = (matches, nos)
        group = 1 if re.compile(py_pattern(r["pattern"])).groups else 0
        lines += ["[[rule]]", f"id = {toml_str(r['id'])}", 'category = "secret"', f"label = {toml_str(r['label'])}", 'kind = "regex"']
        if r["desc"]:
            lines.append(f"description = {toml_str(r['desc'])}")
        lines.append(f"pattern = '''{r['pattern']}'''")
        if group:
            lines.append("group = 1")
        if r["ent"] > 0:
            lines.append(f"validator = {{ entropy = {r['ent']} }}")
        if r["stop"]:
            lines.append("stopwords = [" + ", ".join(toml_str(w) for w in r["stop"]) + "]")
        lines += [f"score = {r['score']}", 'action = "mask"', 'mask = "label"', "", "[rule.examples]",
                  "match = [" + ", ".join(toml_str(m) for m in matches) + "]",
                  "no_match = [" + ", ".join(toml_str(n) for n in nos) + "]", ""]
    return "\n".join(lines)


def write_eval(rng):
    """Per provider: three positives in templates the pack examples do not use, one decoy."""
    out = []
    for r in RULES:
        if r["score"] < 0.5:
            continue  # reported, never masked: its pack examples test it
        rx = re.compile(py_pattern(r["pattern"]))
        ctx = contexts_p if r["kind"] == "P" else contexts_k
        for i in range(3):
            v = first_value(r, rng)
            text = ctx(r, v, rng)[2 + (i % 2)]
            if i == 2:
                text = f"Deploy notes:\n{text}\nThanks."
            m = next(rx.finditer(text), None)
            if m is None:
                raise SystemExit(f"eval: {r['id']} does not match {text!r}")
            s, e = (m.span(1) if rx.groups else m.span(0))
            out.append({"text": text, "entities": [{"type": r["id"], "start": s, "end": e}], "rule": r["id"], "source": "picket:providers"})
        for d in [n for n in no_matches(r, rng) if not fires(r, n)][:1]:
            text = f"see {d} for the format"
            out.append({"text": text, "entities": [], "decoys": [{"type": r["id"], "start": 4, "end": 4 + len(d)}], "rule": r["id"],
                        "source": "picket:providers"})
    return "\n".join(json.dumps(o, ensure_ascii=False) for o in out) + "\n"


def main():
    pack = write_pack(random.Random(13))
    ev = write_eval(random.Random(1313))
    fm = write_formats(random.Random(131313))
    if "--check" in sys.argv:
        same = open(PACK).read() == pack and open(EVAL).read() == ev and open(GENERIC_EVAL).read() == fm
        print("up to date" if same else "stale: rerun scripts/gen_secret_providers.py")
        sys.exit(0 if same else 1)
    os.makedirs(os.path.dirname(EVAL), exist_ok=True)
    open(PACK, "w").write(pack)
    open(EVAL, "w").write(ev)
    open(GENERIC_EVAL, "w").write(fm)
    print(f"{len(RULES)} rules -> {os.path.relpath(PACK, ROOT)}; eval -> {os.path.relpath(EVAL, ROOT)}")


if __name__ == "__main__":
    main()
