// A parsed workflow's token tree as plain values, for the tests that read workflows with GitHub's
// own parser (@actions/workflow-parser): its converted model drops steps' `with:` maps, so the
// tests read those from the token tree.
import { isBasicExpression, isMapping, isSequence } from '@actions/workflow-parser'
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token'

export type Plain = null | string | number | boolean | Plain[] | { [key: string]: Plain }
export type Obj = { [key: string]: Plain }

/** The parsed token tree as plain values; expressions become their `${{ ... }}` source text. */
export function toPlain(token: TemplateToken): Plain {
  if (isMapping(token)) {
    const result: Obj = {}
    for (const pair of token) result[pair.key.toString()] = toPlain(pair.value)
    return result
  }
  if (isSequence(token)) return [...token].map(toPlain)
  if (isBasicExpression(token)) return token.toString()
  const json = token.toJSON() as unknown
  if (json === null || ['string', 'number', 'boolean'].includes(typeof json)) return json as Plain
  return (token as unknown as { toString(): string }).toString()
}

export function obj(value: Plain | undefined): Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}
}

export function list(value: Plain | undefined): Plain[] {
  return Array.isArray(value) ? value : []
}
