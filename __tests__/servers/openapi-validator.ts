import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv } from 'ajv'
import type { ErrorObject, ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

/**
 * Matches requests to operations of GitHub's published OpenAPI description (the
 * `@octokit/openapi` package) and validates path parameters, query parameters and JSON bodies
 * against the operation's own schemas. The fake GitHub server uses it so a test fails when the
 * code under test sends anything GitHub itself would reject.
 */

type JsonObject = Record<string, unknown>

export interface Operation {
  operationId: string
  method: string
  template: string
}

export interface MatchedOperation extends Operation {
  params: Record<string, string>
}

export interface ValidationProblem {
  where: 'path' | 'query' | 'body'
  message: string
}

interface Parameter {
  name: string
  in: string
  required?: boolean
  schema?: JsonObject
  'x-multi-segment'?: boolean
}

interface CompiledOperation extends Operation {
  regex: RegExp
  paramNames: string[]
  literalSegments: number
  parameters: Parameter[]
  bodySchema?: JsonObject
  bodyRequired: boolean
}

// ajv-formats is CommonJS; under ESM its default export may be wrapped once more.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as (ajv: Ajv) => Ajv

const COMPONENTS_ID = 'https://openapi.invalid/api.github.com.json'

let cached: OpenApiValidator | undefined

/** One validator per process: parsing the 13 MB description takes about half a second. */
export function openApiValidator(): OpenApiValidator {
  cached ??= new OpenApiValidator()
  return cached
}

export class OpenApiValidator {
  private readonly spec: JsonObject
  private readonly operations: CompiledOperation[] = []
  private readonly ajv: Ajv
  private readonly validators = new Map<string, ValidateFunction>()
  private componentsAdded = false

  constructor(specFile?: string) {
    const file =
      specFile ??
      createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json')
    this.spec = JSON.parse(readFileSync(file, 'utf8')) as JsonObject
    // strict: false because the description uses OpenAPI keywords (nullable, readOnly, x-github)
    // that are not JSON Schema; ajv understands `nullable` natively.
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false })
    addFormats(this.ajv)
    this.ajv.addFormat('repo.nwo', /^[^/\s]+\/[^/\s]+$/)
    this.ajv.addFormat('int64', { type: 'number', validate: Number.isInteger })
    this.index()
  }

  private index(): void {
    const paths = this.spec.paths as Record<string, Record<string, JsonObject>>
    for (const [template, item] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (typeof op !== 'object' || op === null || !('operationId' in op)) continue
        const parameters = ((op.parameters as JsonObject[] | undefined) ?? []).map(p =>
          this.resolve<Parameter>(p)
        )
        const segments = template.split('/').slice(1)
        const paramNames: string[] = []
        const parts = segments.map(segment => {
          const m = /^\{(.+)\}$/.exec(segment)
          if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          const name = m[1] as string
          paramNames.push(name)
          const multi = parameters.find(p => p.name === name)?.['x-multi-segment'] === true
          return multi ? '(.+)' : '([^/]+)'
        })
        const body = op.requestBody
          ? this.resolve<JsonObject>(op.requestBody as JsonObject)
          : undefined
        const content = body?.content as Record<string, JsonObject> | undefined
        const schema = content?.['application/json']?.schema as JsonObject | undefined
        this.operations.push({
          operationId: op.operationId as string,
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^/${parts.join('/')}/?$`),
          paramNames,
          literalSegments: segments.filter(s => !s.startsWith('{')).length,
          parameters,
          bodySchema: schema,
          bodyRequired: body?.required === true
        })
      }
    }
    // Prefer the most specific template when several match (literal segments beat parameters).
    this.operations.sort((a, b) => b.literalSegments - a.literalSegments)
  }

  private resolve<T>(node: JsonObject): T {
    let current: JsonObject = node
    for (let depth = 0; typeof current.$ref === 'string' && depth < 10; depth++) {
      current = this.pointer(current.$ref as string)
    }
    return current as T
  }

  private pointer(ref: string): JsonObject {
    let node: unknown = this.spec
    for (const part of ref.replace(/^#\//, '').split('/')) {
      node = (node as JsonObject)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
    }
    return node as JsonObject
  }

  /** The operation a request addresses, or undefined when GitHub has no such route. */
  match(method: string, pathname: string): MatchedOperation | undefined {
    for (const op of this.operations) {
      if (op.method !== method) continue
      const m = op.regex.exec(pathname)
      if (!m) continue
      const params: Record<string, string> = {}
      op.paramNames.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] as string)
      })
      return { operationId: op.operationId, method: op.method, template: op.template, params }
    }
    return undefined
  }

  /** Everything wrong with a request for `operation`; an empty list when GitHub would accept it. */
  validate(
    operation: MatchedOperation,
    query: URLSearchParams,
    body: unknown,
    options: { rejectUnknownBodyProperties?: boolean } = {}
  ): ValidationProblem[] {
    const op = this.operations.find(
      o => o.operationId === operation.operationId && o.method === operation.method
    )
    if (!op) return [{ where: 'path', message: `unknown operation ${operation.operationId}` }]
    const problems: ValidationProblem[] = []
    for (const parameter of op.parameters) {
      if (parameter.in !== 'path' && parameter.in !== 'query') continue
      const raw =
        parameter.in === 'path'
          ? operation.params[parameter.name]
          : (query.get(parameter.name) ?? undefined)
      if (raw === undefined) {
        if (parameter.required) {
          problems.push({ where: parameter.in, message: `"${parameter.name}" wasn't supplied` })
        }
        continue
      }
      if (!parameter.schema) continue
      const value = coerce(raw, parameter.schema)
      const validate = this.compile(`param:${op.operationId}:${parameter.name}`, parameter.schema)
      if (!validate(value)) {
        problems.push({
          where: parameter.in,
          message: `${parameter.name}=${JSON.stringify(raw)}: ${describe(validate.errors)}`
        })
      }
    }
    if (op.bodySchema) {
      if (body === undefined) {
        if (op.bodyRequired) problems.push({ where: 'body', message: 'a JSON body is required' })
      } else {
        const key = `body:${op.operationId}:${options.rejectUnknownBodyProperties ? 1 : 0}`
        const schema = options.rejectUnknownBodyProperties
          ? closeObjects(structuredClone(op.bodySchema))
          : op.bodySchema
        const validate = this.compile(key, schema)
        if (!validate(body)) problems.push({ where: 'body', message: describe(validate.errors) })
      }
    } else if (body !== undefined && op.method !== 'GET' && op.method !== 'DELETE') {
      problems.push({ where: 'body', message: 'this operation takes no body' })
    }
    return problems
  }

  private compile(key: string, schema: JsonObject): ValidateFunction {
    let validate = this.validators.get(key)
    if (!validate) {
      const text = JSON.stringify(schema)
      if (text.includes('"$ref"')) {
        // References point into the description's #/components: register those once under an
        // id and point the references there (attaching them to every schema would make ajv
        // walk 13 MB per compilation).
        if (!this.componentsAdded) {
          this.ajv.addSchema({ components: this.spec.components }, COMPONENTS_ID)
          this.componentsAdded = true
        }
        validate = this.ajv.compile(
          JSON.parse(
            text.replace(/"\$ref":"#\/components\//g, `"$ref":"${COMPONENTS_ID}#/components/`)
          ) as JsonObject
        )
      } else {
        validate = this.ajv.compile(schema)
      }
      this.validators.set(key, validate)
    }
    return validate
  }
}

/** Query and path values arrive as text; give ajv the type the schema asks for. */
function coerce(raw: string, schema: JsonObject): unknown {
  if (schema.type === 'integer' || schema.type === 'number') {
    return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw
  }
  if (schema.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw
  return raw
}

/**
 * GitHub ignores body properties it does not know, which hides typos in the code under test.
 * Closing every plain object schema (outside allOf, where closing would reject valid input)
 * turns such a property into a validation failure.
 */
function closeObjects(schema: JsonObject, insideAllOf = false): JsonObject {
  if (schema.properties && schema.additionalProperties === undefined && !insideAllOf) {
    schema.additionalProperties = false
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'allOf' && Array.isArray(value)) {
      value.forEach(v => closeObjects(v as JsonObject, true))
    } else if (key === 'properties' && value && typeof value === 'object') {
      Object.values(value as JsonObject).forEach(v => closeObjects(v as JsonObject))
    } else if ((key === 'oneOf' || key === 'anyOf') && Array.isArray(value)) {
      value.forEach(v => closeObjects(v as JsonObject, insideAllOf))
    } else if (key === 'items' && value && typeof value === 'object') {
      closeObjects(value as JsonObject)
    }
  }
  return schema
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map(e => {
      const extra =
        e.keyword === 'additionalProperties'
          ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})`
          : ''
      return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`
    })
    .join('; ')
}
