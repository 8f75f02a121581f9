import { SECRET_RULES, type SecretRule } from './rules.js'

/**
 * The secret scan's engine (pure, no dependency): the run's own known secret values, in the
 * forms they travel in, and well-known secret formats (rules.ts). One pass finds the rules'
 * keywords; each rule's pattern then runs only on the lines that hold one of its keywords, so
 * the cost stays linear in the text whatever the number of rules.
 */

/** A secret value the run knows, and where it came from (for the message; never the value). */
export interface KnownSecret {
  value: string
  /** What it is: `anthropic-api-key`, `github-token`, `env:DEPLOY_TOKEN`, `.git/config` … */
  source: string
}

export interface KnownSecrets {
  values: KnownSecret[]
}

export interface Finding {
  /** `known:<source>` for a known value, else the format rule's id. */
  rule: string
  kind: 'known' | 'format'
  /** Offsets of the secret in the scanned text. */
  start: number
  end: number
  /** The secret as it appears in the text (encoded, for an encoded known value). */
  value: string
}

/** Known values shorter than this are not looked for: they would match ordinary text. */
export const MIN_KNOWN_LENGTH = 8

/** Shannon entropy in bits per character, as gitleaks measures it. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0
  const counts = new Map<string, number>()
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1)
  let entropy = 0
  for (const count of counts.values()) {
    const p = count / text.length
    entropy -= p * Math.log2(p)
  }
  return entropy
}

/**
 * The strings a known value may appear as: itself, URL-encoded, and base64 in the three byte
 * alignments it can have inside a longer encoded text (`x-access-token:TOKEN` encodes TOKEN at
 * an offset), standard and URL-safe alphabets. Only the characters that depend on the value
 * alone are kept, so an encoded value is found whatever surrounds it.
 */
export function encodedForms(value: string): string[] {
  if (value.length < MIN_KNOWN_LENGTH) return []
  const forms = new Set<string>([value])
  const encoded = encodeURIComponent(value)
  if (encoded !== value) forms.add(encoded)
  const bytes = Buffer.from(value, 'utf8')
  for (let offset = 0; offset < 3; offset++) {
    const base64 = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64')
    const first = Math.ceil((offset * 8) / 6)
    const last = Math.floor(((offset + bytes.length) * 8) / 6)
    const core = base64.slice(first, last)
    if (core.length >= MIN_KNOWN_LENGTH) {
      forms.add(core)
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'))
    }
  }
  return [...forms].filter(form => form.length >= MIN_KNOWN_LENGTH)
}

interface CompiledRule {
  rule: SecretRule
  regex: RegExp
  /** The same pattern, matched only where a keyword was found. */
  sticky: RegExp
}

interface Engine {
  keywords: RegExp
  byKeyword: Map<string, CompiledRule[]>
}

let engine: Engine | undefined

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

function compile(rules: readonly SecretRule[]): Engine {
  const byKeyword = new Map<string, CompiledRule[]>()
  for (const rule of rules) {
    const compiled = {
      rule,
      regex: new RegExp(rule.pattern, `gm${rule.flags ?? ''}`),
      sticky: new RegExp(rule.pattern, `ym${rule.flags ?? ''}`)
    }
    for (const keyword of rule.keywords) {
      const key = keyword.toLowerCase()
      byKeyword.set(key, [...(byKeyword.get(key) ?? []), compiled])
    }
  }
  // Longest first, so a keyword that contains another is found as itself.
  const alternatives = [...byKeyword.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp)
  return { keywords: new RegExp(alternatives.join('|'), 'gi'), byKeyword }
}

function formatEngine(): Engine {
  engine ??= compile(SECRET_RULES)
  return engine
}

/** Well-known secret formats in `text`. */
export function findFormatSecrets(text: string): Finding[] {
  const { keywords, byKeyword } = formatEngine()
  // One pass finds the keywords. A rule whose pattern starts with its keyword is tried right
  // there and only there (a sticky match: one attempt per keyword found, whatever the text);
  // the few whose keyword is inside the match are tried over the lines that hold it.
  const work = new Map<number, Set<CompiledRule>>()
  const findings: Finding[] = []
  const seen = new Set<string>()
  const record = (rule: SecretRule, match: RegExpExecArray, base: number): void => {
    const secret = match[1] ?? match[0]
    if (secret === '' || !accepts(rule, secret)) return
    const start = base + match.index + match[0].indexOf(secret)
    const key = `${start}:${rule.id}`
    if (seen.has(key)) return
    seen.add(key)
    findings.push({
      rule: rule.id,
      kind: 'format',
      start,
      end: start + secret.length,
      value: secret
    })
  }
  keywords.lastIndex = 0
  for (let hit = keywords.exec(text); hit; hit = keywords.exec(text)) {
    for (const compiled of byKeyword.get(hit[0].toLowerCase()) ?? []) {
      if (compiled.rule.keywordInside) {
        const lineStart = text.lastIndexOf('\n', hit.index) + 1
        const set = work.get(lineStart)
        if (set) set.add(compiled)
        else work.set(lineStart, new Set([compiled]))
        continue
      }
      compiled.sticky.lastIndex = hit.index
      const m = compiled.sticky.exec(text)
      if (m) record(compiled.rule, m, 0)
    }
  }
  for (const [lineStart, rules] of work) {
    const newline = text.indexOf('\n', lineStart)
    const line = text.slice(lineStart, newline < 0 ? text.length : newline)
    for (const { rule, regex } of rules) {
      regex.lastIndex = 0
      for (let m = regex.exec(line); m; m = regex.exec(line)) {
        if (m[0].length === 0) regex.lastIndex++
        record(rule, m, lineStart)
      }
    }
  }
  return findings.sort((a, b) => a.start - b.start)
}

function accepts(rule: SecretRule, secret: string): boolean {
  if (rule.entropy !== undefined && shannonEntropy(secret) < rule.entropy) return false
  return !(rule.allow ?? []).some(pattern => pattern.test(secret))
}

/** The run's known secret values in `text`, in any of their encoded forms. */
export function findKnownSecrets(text: string, known: KnownSecrets): Finding[] {
  const findings: Finding[] = []
  for (const { value, source } of known.values) {
    if (value.length < MIN_KNOWN_LENGTH) continue
    for (const form of encodedForms(value)) {
      for (let at = text.indexOf(form); at >= 0; at = text.indexOf(form, at + form.length)) {
        findings.push({
          rule: `known:${source}`,
          kind: 'known',
          start: at,
          end: at + form.length,
          value: form
        })
      }
    }
  }
  return findings.sort((a, b) => a.start - b.start)
}

/** Both scans: the known values first, then the formats they do not already cover. */
export function findSecrets(text: string, known: KnownSecrets): Finding[] {
  const knownFindings = findKnownSecrets(text, known)
  const formats = findFormatSecrets(text).filter(
    f => !knownFindings.some(k => f.start < k.end && k.start < f.end)
  )
  return [...knownFindings, ...formats].sort((a, b) => a.start - b.start)
}

/** How a finding reads in a message: the rule and a few characters, never the value. */
export function redactedValue(finding: Finding): string {
  if (finding.kind === 'known') return '***'
  // A format's fixed prefix says what it is and gives nothing away.
  const shown = finding.value.slice(0, Math.min(4, Math.floor(finding.value.length / 4)))
  return `${shown}***`
}

/** What stands in for a secret in published text. */
export function redactionMark(finding: Finding): string {
  return `[REDACTED:${finding.rule.replace(/^known:/, '')}]`
}

/** `text` with these findings (offsets into it) replaced by their marks. */
export function redactFindings(text: string, findings: readonly Finding[]): string {
  const ordered = [...findings].sort((a, b) => a.start - b.start)
  const parts: string[] = []
  let at = 0
  for (const finding of ordered) {
    if (finding.start < at) continue // overlaps one already redacted
    parts.push(text.slice(at, finding.start), redactionMark(finding))
    at = finding.end
  }
  parts.push(text.slice(at))
  return parts.join('')
}

/** `text` with every known value and well-known format replaced by a mark. */
export function redactSecrets(text: string, known: KnownSecrets): string {
  return redactFindings(text, findSecrets(text, known))
}
