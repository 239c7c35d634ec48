// Direct S3 calls to the store under test, to check what a browser upload really left there.
// Signed with SigV4 by aws4fetch; path-style addressing, as both stores use.
import { AwsClient } from 'aws4fetch'

export class Store {
  /** `credentials` may list the bucket (Garage: the read-write key; embedded: the dev read key). */
  constructor({ endpoint, region, bucket, accessKeyId, secretAccessKey }) {
    this.base = `${endpoint.replace(/\/$/, '')}/${bucket}`
    this.origin = new URL(endpoint).origin
    this.bucket = bucket
    // No retries: aws4fetch retries 5xx answers with backoff, which turns a store's
    // 501 NotImplemented into half a minute of waiting.
    this.client = new AwsClient({ accessKeyId, secretAccessKey, service: 's3', region, retries: 0 })
  }

  async #get(query) {
    const res = await this.client.fetch(`${this.base}?${query}`)
    const body = await res.text()
    return { status: res.status, body }
  }

  async #getOk(query) {
    const { status, body } = await this.#get(query)
    if (status !== 200) throw new Error(`store: GET ?${query} answered ${status}: ${body.slice(0, 300)}`)
    return body
  }

  /** Keys of the objects under `prefix` (ListObjectsV2). */
  async listObjects(prefix) {
    const body = await this.#getOk(`list-type=2&prefix=${encodeURIComponent(prefix)}`)
    return [...body.matchAll(/<Contents>[\s\S]*?<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1]))
  }

  /**
   * `{key, uploadId}` of the multipart uploads in progress under `prefix` (ListMultipartUploads),
   * or null where the store does not implement it (s3s-fs 0.14 answers 501).
   */
  async listMultipartUploads(prefix) {
    const query = `uploads=&prefix=${encodeURIComponent(prefix)}`
    const { status, body } = await this.#get(query)
    if (status === 501) return null
    if (status !== 200) throw new Error(`store: GET ?${query} answered ${status}: ${body.slice(0, 300)}`)
    return [...body.matchAll(/<Upload>([\s\S]*?)<\/Upload>/g)].map((m) => ({
      key: unescapeXml(/<Key>([^<]*)<\/Key>/.exec(m[1])?.[1] ?? ''),
      uploadId: unescapeXml(/<UploadId>([^<]*)<\/UploadId>/.exec(m[1])?.[1] ?? ''),
    }))
  }

  /** GetObject: the object's bytes; throws unless the store answers 200. */
  async getObject(key) {
    const res = await this.client.fetch(`${this.base}/${encodeKey(key)}`)
    const body = Buffer.from(await res.arrayBuffer())
    if (res.status !== 200) throw new Error(`store: GET ${key} answered ${res.status}: ${body.toString().slice(0, 300)}`)
    return body
  }

  /** HeadObject: the status and the headers the store keeps for the object. */
  async headObject(key) {
    const res = await this.client.fetch(`${this.base}/${encodeKey(key)}`, { method: 'HEAD' })
    return { status: res.status, headers: res.headers }
  }

  /**
   * ListParts of one upload: its status and part numbers. S3 and Garage answer 404 NoSuchUpload
   * once it was aborted; s3s-fs 0.14 answers 200 with the parts still on disk (none, then).
   */
  async listParts(key, uploadId) {
    const res = await this.client.fetch(`${this.base}/${encodeKey(key)}?uploadId=${encodeURIComponent(uploadId)}`)
    const body = await res.text()
    const parts = [...body.matchAll(/<Part>[\s\S]*?<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]))
    return { status: res.status, parts }
  }
}

/** Object key from a path-style object URL (`{endpoint}/{bucket}/{key}`). */
export function keyFromObjectUrl(url, bucket) {
  const path = new URL(url).pathname
  const prefix = `/${bucket}/`
  if (!path.startsWith(prefix)) throw new Error(`not a path-style URL of bucket ${bucket}: ${url}`)
  return decodeURIComponent(path.slice(prefix.length))
}

function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/')
}

function unescapeXml(text) {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, e) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e])
}
