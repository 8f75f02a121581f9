/** Each cloud provider's default upstream (pure, and free of the providers' libraries). */

/** The region's bedrock-runtime endpoint (what ANTHROPIC_BEDROCK_BASE_URL defaults to). */
export function bedrockUpstreamUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`
}

/** The region's Vertex AI endpoint, with the `/v1` the CLI's own ANTHROPIC_VERTEX_BASE_URL has. */
export function vertexUpstreamUrl(region: string): string {
  return region === 'global'
    ? 'https://aiplatform.googleapis.com/v1'
    : `https://${region}-aiplatform.googleapis.com/v1`
}
