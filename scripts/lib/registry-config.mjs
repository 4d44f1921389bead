// The configuration of Debian's docker-registry as the tests, the
// benchmarks and the example start it: filesystem storage, deletes allowed,
// no background upload purging, listening on 127.0.0.1 only. `extra` is
// appended YAML (http.tls, auth) at the top level or under http.
/**
 * @param {{ storage: string, port: number, logLevel?: string, secret: string, httpExtra?: string, extra?: string }} o
 * @returns {string}
 */
export function registryConfigYaml(o) {
  return `version: 0.1
log:
  level: ${o.logLevel ?? 'error'}
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${o.storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${o.port}
  secret: ${o.secret}
${o.httpExtra ?? ''}${o.extra ?? ''}`;
}
