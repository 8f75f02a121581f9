/**
 * Well-known secret formats: a subset of gitleaks' default rule set (config/gitleaks.toml in
 * github.com/gitleaks/gitleaks, MIT licence), taken as data and translated from Go's regular
 * expression syntax to JavaScript's (inline `(?i)` becomes a character class or the `i` flag,
 * `\z` becomes `$` with the `m` flag, since the scan runs over lines).
 *
 * Why gitleaks' rules and not secretlint's recommended preset: the rules are plain data (an id,
 * a pattern, keywords, a minimum entropy, an allow-list), so they run in our own linear scan with
 * no dependency, and the keywords let one pass over the text decide which few rules to try;
 * secretlint's preset is code in a dozen packages behind an async plugin runtime.
 *
 * Only rules anchored on a format's own fixed prefix are taken (`ghp_`, `AKIA`, `xoxb-`, …).
 * gitleaks' context rules (`<service> … = <32 hex>`) and its generic-api-key rule flag ordinary
 * code, hashes and ids; in a gate that refuses a commit they would cry wolf, and the run's own
 * credentials are caught exactly by the known-value scan instead.
 */

export interface SecretRule {
  id: string
  description: string
  /** Literal strings, matched case-insensitively, one of which every match contains. */
  keywords: string[]
  /** JavaScript pattern source; runs with the `g` and `m` flags (plus `flags`). */
  pattern: string
  flags?: 'i'
  /** Minimum Shannon entropy (bits per character) of the secret, as gitleaks checks it. */
  entropy?: number
  /** Secrets matching one of these are known examples, not credentials. */
  allow?: RegExp[]
  /**
   * The keyword is inside the match, not where it starts: the pattern is tried over the lines
   * holding the keyword. Otherwise it is tried only where the keyword is found (its pattern
   * starts there, so a match may span lines, as a PEM block does).
   */
  keywordInside?: boolean
}

/** What follows a token in gitleaks' rules: a quote, space, `;`, an escaped newline, or the end. */
const END = String.raw`(?:[\x60'"\s;]|\\[nr]|$)`

export const SECRET_RULES: readonly SecretRule[] = [
  {
    id: 'aws-access-token',
    description: 'AWS access key id',
    keywords: ['a3t', 'akia', 'asia', 'abia', 'acca'],
    pattern: String.raw`\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`,
    entropy: 3,
    allow: [/.+EXAMPLE$/]
  },
  {
    id: 'github-pat',
    description: 'GitHub personal access token',
    keywords: ['ghp_'],
    pattern: String.raw`(ghp_[0-9a-zA-Z]{36})`,
    entropy: 3
  },
  {
    id: 'github-fine-grained-pat',
    description: 'GitHub fine-grained personal access token',
    keywords: ['github_pat_'],
    pattern: String.raw`(github_pat_\w{82})`,
    entropy: 3
  },
  {
    id: 'github-oauth',
    description: 'GitHub OAuth access token',
    keywords: ['gho_'],
    pattern: String.raw`(gho_[0-9a-zA-Z]{36})`,
    entropy: 3
  },
  {
    id: 'github-app-token',
    description: 'GitHub App or Actions installation token',
    keywords: ['ghu_', 'ghs_'],
    pattern: String.raw`((?:ghu|ghs)_[0-9a-zA-Z]{36})`,
    entropy: 3
  },
  {
    id: 'github-refresh-token',
    description: 'GitHub refresh token',
    keywords: ['ghr_'],
    pattern: String.raw`(ghr_[0-9a-zA-Z]{36})`,
    entropy: 3
  },
  {
    id: 'gitlab-pat',
    description: 'GitLab personal access token',
    keywords: ['glpat-'],
    pattern: String.raw`(glpat-[\w-]{20})`,
    entropy: 3
  },
  {
    id: 'gitlab-ptt',
    description: 'GitLab pipeline trigger token',
    keywords: ['glptt-'],
    pattern: String.raw`(glptt-[0-9a-f]{40})`,
    entropy: 3
  },
  {
    id: 'gitlab-runner-authentication-token',
    description: 'GitLab runner authentication token',
    keywords: ['glrt-'],
    pattern: String.raw`(glrt-[0-9a-zA-Z_\-]{20})`,
    entropy: 3
  },
  {
    id: 'gitlab-deploy-token',
    description: 'GitLab deploy token',
    keywords: ['gldt-'],
    pattern: String.raw`(gldt-[0-9a-zA-Z_\-]{20})`,
    entropy: 3
  },
  {
    id: 'anthropic-api-key',
    description: 'Anthropic API key',
    keywords: ['sk-ant-api03'],
    pattern: String.raw`\b(sk-ant-api03-[a-zA-Z0-9_\-]{93}AA)${END}`
  },
  {
    id: 'anthropic-admin-api-key',
    description: 'Anthropic admin API key',
    keywords: ['sk-ant-admin01'],
    pattern: String.raw`\b(sk-ant-admin01-[a-zA-Z0-9_\-]{93}AA)${END}`
  },
  {
    id: 'openai-api-key',
    description: 'OpenAI API key',
    keywords: ['t3blbkfj'],
    pattern: String.raw`\b(sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})\b|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})${END}`,
    entropy: 3,
    keywordInside: true
  },
  {
    id: 'gcp-api-key',
    description: 'Google Cloud API key',
    keywords: ['aiza'],
    pattern: String.raw`\b(AIza[\w-]{35})${END}`,
    entropy: 4
  },
  {
    id: 'private-key',
    description: 'private key (PEM)',
    keywords: ['-----begin'],
    // Bounded: a PEM key is far smaller than 16 KiB, and the lazy body must not run to the end.
    pattern: String.raw`(-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S-]{64,16384}?KEY(?: BLOCK)?-----)`,
    flags: 'i'
  },
  {
    id: 'jwt',
    description: 'JSON Web Token',
    keywords: ['eyj'],
    pattern: String.raw`\b(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9\/\\_-]{17,}\.(?:[a-zA-Z0-9\/\\_-]{10,}={0,2})?)${END}`,
    entropy: 3
  },
  {
    id: 'slack-bot-token',
    description: 'Slack bot token',
    keywords: ['xoxb'],
    pattern: String.raw`(xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*)`,
    entropy: 3
  },
  {
    id: 'slack-user-token',
    description: 'Slack user token',
    keywords: ['xoxp-', 'xoxe-'],
    pattern: String.raw`(xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34})`,
    entropy: 2
  },
  {
    id: 'slack-app-token',
    description: 'Slack app-level token',
    keywords: ['xapp'],
    pattern: String.raw`(xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)`,
    flags: 'i',
    entropy: 2
  },
  {
    id: 'slack-webhook-url',
    description: 'Slack webhook URL',
    keywords: ['hooks.slack.com'],
    pattern: String.raw`((?:https?://)?hooks.slack.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56})`,
    keywordInside: true
  },
  {
    id: 'stripe-access-token',
    description: 'Stripe secret or restricted key',
    keywords: ['sk_test', 'sk_live', 'sk_prod', 'rk_test', 'rk_live', 'rk_prod'],
    pattern: String.raw`\b((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})${END}`,
    entropy: 2
  },
  {
    id: 'npm-access-token',
    description: 'npm access token',
    keywords: ['npm_'],
    pattern: String.raw`\b(npm_[a-z0-9]{36})${END}`,
    flags: 'i',
    entropy: 2
  },
  {
    id: 'pypi-upload-token',
    description: 'PyPI upload token',
    keywords: ['pypi-ageichlwas5vcmc'],
    pattern: String.raw`(pypi-AgEIcHlwaS5vcmc[\w-]{50,1000})`,
    entropy: 3
  },
  {
    id: 'rubygems-api-token',
    description: 'RubyGems API token',
    keywords: ['rubygems_'],
    pattern: String.raw`\b(rubygems_[a-f0-9]{48})${END}`,
    entropy: 2
  },
  {
    id: 'huggingface-access-token',
    description: 'Hugging Face access token',
    keywords: ['hf_'],
    pattern: String.raw`\b(hf_[a-zA-Z]{34})${END}`,
    entropy: 2
  },
  {
    id: 'sendgrid-api-token',
    description: 'SendGrid API token',
    keywords: ['sg.'],
    pattern: String.raw`\b(SG\.[a-zA-Z0-9=_\-\.]{66})${END}`,
    entropy: 2
  },
  {
    id: 'shopify-access-token',
    description: 'Shopify access token',
    keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'],
    pattern: String.raw`(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})`,
    entropy: 2
  },
  {
    id: 'digitalocean-token',
    description: 'DigitalOcean token',
    keywords: ['doo_v1_', 'dop_v1_', 'dor_v1_'],
    pattern: String.raw`\b(do[opr]_v1_[a-f0-9]{64})${END}`,
    entropy: 3
  },
  {
    id: 'databricks-api-token',
    description: 'Databricks API token',
    keywords: ['dapi'],
    pattern: String.raw`\b(dapi[a-f0-9]{32}(?:-\d)?)${END}`,
    entropy: 3
  },
  {
    id: 'vault-service-token',
    description: 'HashiCorp Vault token',
    keywords: ['hvs.', 'hvb.'],
    pattern: String.raw`\b((?:hvs\.[\w-]{90,120}|hvb\.[\w-]{138,300}))${END}`,
    entropy: 3.5
  },
  {
    id: 'hashicorp-tf-api-token',
    description: 'Terraform Cloud API token',
    keywords: ['atlasv1'],
    pattern: String.raw`([a-zA-Z0-9]{14}\.atlasv1\.[a-zA-Z0-9\-_=]{60,70})`,
    entropy: 3.5,
    keywordInside: true
  },
  {
    id: 'doppler-api-token',
    description: 'Doppler API token',
    keywords: ['dp.pt.'],
    pattern: String.raw`(dp\.pt\.[a-zA-Z0-9]{43})`,
    entropy: 2
  },
  {
    id: 'linear-api-key',
    description: 'Linear API key',
    keywords: ['lin_api_'],
    pattern: String.raw`(lin_api_[a-zA-Z0-9]{40})`,
    entropy: 2
  },
  {
    id: 'pulumi-api-token',
    description: 'Pulumi access token',
    keywords: ['pul-'],
    pattern: String.raw`\b(pul-[a-f0-9]{40})${END}`,
    entropy: 2
  },
  {
    id: 'postman-api-token',
    description: 'Postman API key',
    keywords: ['pmak-'],
    pattern: String.raw`\b(PMAK-[a-fA-F0-9]{24}\-[a-fA-F0-9]{34})${END}`,
    entropy: 3
  },
  {
    id: 'sentry-user-token',
    description: 'Sentry user token',
    keywords: ['sntryu_'],
    pattern: String.raw`\b(sntryu_[a-f0-9]{64})${END}`,
    entropy: 3.5
  },
  {
    id: 'grafana-service-account-token',
    description: 'Grafana service account token',
    keywords: ['glsa_'],
    pattern: String.raw`\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})${END}`,
    entropy: 3
  },
  {
    id: 'age-secret-key',
    description: 'age secret key',
    keywords: ['age-secret-key-1'],
    pattern: String.raw`(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})`
  },
  {
    id: 'atlassian-api-token',
    description: 'Atlassian API token',
    keywords: ['atatt3'],
    pattern: String.raw`\b(ATATT3[A-Za-z0-9_\-=]{186})${END}`,
    entropy: 3.5
  },
  {
    id: 'artifactory-api-key',
    description: 'Artifactory API key',
    keywords: ['akcp'],
    pattern: String.raw`\b(AKCp[A-Za-z0-9]{69})\b`,
    entropy: 4.5
  },
  {
    id: 'azure-ad-client-secret',
    description: 'Azure AD client secret',
    keywords: ['q~'],
    pattern: String.raw`(?:^|[\\'"\x60\s>=:(,)])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?:$|[\\'"\x60\s<),])`,
    entropy: 3,
    keywordInside: true
  },
  {
    id: 'heroku-api-key-v2',
    description: 'Heroku API key',
    keywords: ['hrku-aa'],
    pattern: String.raw`\b(HRKU-AA[0-9a-zA-Z_-]{58})${END}`,
    entropy: 4
  },
  {
    id: 'square-access-token',
    description: 'Square access token',
    keywords: ['sq0atp-'],
    pattern: String.raw`\b(sq0atp-[\w-]{22,60})${END}`,
    entropy: 2
  },
  {
    id: 'planetscale-token',
    description: 'PlanetScale token or password',
    keywords: ['pscale_tkn_', 'pscale_oauth_', 'pscale_pw_'],
    pattern: String.raw`\b(pscale_(?:tkn|oauth|pw)_[\w=\.-]{32,64})${END}`,
    entropy: 3
  },
  {
    id: 'flyio-access-token',
    description: 'Fly.io token',
    keywords: ['fo1_', 'fm2_'],
    pattern: String.raw`\b((?:fo1_[\w-]{43}|fm2_[a-zA-Z0-9+\/]{100,}={0,3}))${END}`,
    entropy: 4
  },
  {
    id: 'sendinblue-api-token',
    description: 'Brevo (Sendinblue) API key',
    keywords: ['xkeysib-'],
    pattern: String.raw`\b(xkeysib-[a-f0-9]{64}\-[a-zA-Z0-9]{16})${END}`,
    entropy: 2
  },
  {
    id: 'dynatrace-api-token',
    description: 'Dynatrace API token',
    keywords: ['dt0c01.'],
    pattern: String.raw`(dt0c01\.[a-zA-Z0-9]{24}\.[a-zA-Z0-9]{64})`,
    entropy: 4
  },
  {
    id: 'perplexity-api-key',
    description: 'Perplexity API key',
    keywords: ['pplx-'],
    pattern: String.raw`\b(pplx-[a-zA-Z0-9]{48})(?:[\x60'"\s;]|\\[nr]|$|\b)`,
    entropy: 4
  },
  {
    id: 'notion-api-token',
    description: 'Notion API token',
    keywords: ['ntn_'],
    pattern: String.raw`\b(ntn_[0-9]{11}[A-Za-z0-9]{32}[A-Za-z0-9]{3})${END}`,
    entropy: 4
  },
  {
    id: 'prefect-api-token',
    description: 'Prefect API token',
    keywords: ['pnu_'],
    pattern: String.raw`\b(pnu_[a-zA-Z0-9]{36})${END}`,
    entropy: 2
  },
  {
    id: '1password-service-account-token',
    description: '1Password service account token',
    keywords: ['ops_'],
    pattern: String.raw`(ops_eyJ[a-zA-Z0-9+/]{250,}={0,3})`,
    entropy: 4
  },
  {
    id: 'clojars-api-token',
    description: 'Clojars deploy token',
    keywords: ['clojars_'],
    pattern: String.raw`(CLOJARS_[a-z0-9]{60})`,
    flags: 'i',
    entropy: 2
  }
]
