import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, posix, resolve } from 'node:path'
import { test } from 'node:test'
import { parse } from 'yaml'
import { REPO_ROOT } from '../helpers/commands.js'

// deploy/compose.yaml, parsed (no container engine here): every file and volume it names exists,
// and the services are wired to one another by the ports, names and paths they really use.

const DEPLOY = join(REPO_ROOT, 'deploy')

interface Service {
  image?: string
  build?: { context: string; dockerfile: string }
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  command?: string[]
  network_mode?: string
  depends_on?: string[] | Record<string, unknown>
}

const yamlFile = <T>(path: string) => parse(readFileSync(path, 'utf8')) as T
const compose = () =>
  yamlFile<{ services: Record<string, Service>; volumes: Record<string, unknown> }>(
    join(DEPLOY, 'compose.yaml'),
  )

/** `source:target[:ro]` of a service's volumes. */
const mounts = (service: Service) =>
  (service.volumes ?? []).map((spec) => {
    const [source, target] = spec.split(':') as [string, string]
    return { source, target, bind: source.startsWith('.') || source.startsWith('/') }
  })

/** The Dockerfile's final stage: what the banditjoin image exposes and keeps in a volume. */
function finalStage(): { expose: string[]; volumes: string[] } {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')
  const last = text.slice(text.lastIndexOf('\nFROM '))
  return {
    expose: [...last.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => (m[1] as string).split(' ')),
    volumes: [...last.matchAll(/^VOLUME (.+)$/gm)].flatMap((m) => (m[1] as string).split(' ')),
  }
}

test('compose runs banditjoin, one Kafka broker in KRaft mode, Prometheus and Grafana', () => {
  const { services } = compose()
  assert.deepEqual(Object.keys(services).sort(), ['banditjoin', 'grafana', 'kafka', 'prometheus'])
  const kafka = services.kafka?.environment ?? {}
  assert.deepEqual(
    kafka.KAFKA_PROCESS_ROLES?.split(',').sort(),
    ['broker', 'controller'],
    'KRaft: no ZooKeeper',
  )
  assert.equal(Object.keys(kafka).filter((k) => /ZOOKEEPER/.test(k)).length, 0)
  assert.match(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS ?? '', new RegExp(`^${kafka.KAFKA_NODE_ID}@kafka:\\d+$`))
  const pom = readFileSync(join(REPO_ROOT, 'test/kafka/pom.xml'), 'utf8')
  const version = /<kafka\.version>([^<]+)</.exec(pom)?.[1]
  assert.equal(services.kafka?.image, `apache/kafka:${version}`, 'the Kafka release the tests run')
})

test('banditjoin is built from the Dockerfile, reaches the broker it advertises, and publishes the port it listens on', () => {
  const { services } = compose()
  const banditjoin = services.banditjoin as Service
  const build = banditjoin.build as { context: string; dockerfile: string }
  assert.ok(existsSync(join(resolve(DEPLOY, build.context), build.dockerfile)), 'the Dockerfile')
  const advertised = services.kafka?.environment?.KAFKA_ADVERTISED_LISTENERS ?? ''
  assert.ok(
    advertised.includes(`//${banditjoin.environment?.KAFKA_BROKERS}`),
    `${advertised} serves KAFKA_BROKERS`,
  )
  const image = finalStage()
  const published = (banditjoin.ports ?? []).map((p) => p.split(':')[1])
  for (const port of image.expose) assert.ok(published.includes(port), `port ${port} is published`)
  assert.deepEqual(
    mounts(banditjoin).map((m) => m.target),
    image.volumes,
    'the data volume is mounted where the image keeps it',
  )
})

test('every file compose mounts exists, and every named volume is declared', () => {
  const { services, volumes } = compose()
  for (const [name, service] of Object.entries(services)) {
    for (const mount of mounts(service)) {
      if (mount.bind)
        assert.ok(existsSync(resolve(DEPLOY, mount.source)), `${name}: ${mount.source} does not exist`)
      else assert.ok(mount.source in volumes, `${name}: volume ${mount.source} is not declared`)
    }
  }
})

test('Prometheus reads deploy/prometheus.yml and its alert rules, and reaches the target the file names', () => {
  const { services } = compose()
  const prometheus = services.prometheus as Service
  const configPath = prometheus.command?.find((c) => c.startsWith('--config.file='))?.split('=')[1] as string
  const mounted = mounts(prometheus)
  assert.equal(mounted.find((m) => m.target === configPath)?.source, './prometheus.yml')
  const config = yamlFile<{
    rule_files: string[]
    scrape_configs: { static_configs: { targets: string[] }[] }[]
  }>(join(DEPLOY, 'prometheus.yml'))
  for (const rules of config.rule_files) {
    const target = posix.join(posix.dirname(configPath), rules)
    const mount = mounted.find((m) => m.target === target)
    assert.ok(mount && existsSync(resolve(DEPLOY, mount.source)), `${rules} is mounted next to the config`)
  }
  // The file scrapes 127.0.0.1:PORT: Prometheus shares banditjoin's network namespace.
  const targets = config.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets))
  assert.deepEqual(targets, ['127.0.0.1:8080'])
  assert.equal(prometheus.network_mode, 'service:banditjoin')
  assert.ok(
    services.banditjoin?.ports?.includes('9090:9090'),
    "Prometheus's UI is published by its network's service",
  )
})

test('Grafana provisions the Prometheus data source and the dashboard file', () => {
  const { services } = compose()
  const grafana = services.grafana as Service
  const mounted = mounts(grafana)
  const dashboard = mounted.find((m) => m.source === './grafana-dashboard.json')
  assert.ok(dashboard, 'deploy/grafana-dashboard.json is mounted')
  const providers = mounted.find((m) => m.target.startsWith('/etc/grafana/provisioning/dashboards/'))
  const provider = yamlFile<{ providers: { options: { path: string } }[] }>(
    resolve(DEPLOY, providers?.source ?? ''),
  )
  assert.equal(provider.providers[0]?.options.path, dirname(dashboard.target))
  const sources = mounted.find((m) => m.target.startsWith('/etc/grafana/provisioning/datasources/'))
  const datasource = yamlFile<{ datasources: { type: string; url: string }[] }>(
    resolve(DEPLOY, sources?.source ?? ''),
  )
  const [prometheusSource] = datasource.datasources
  assert.equal(prometheusSource?.type, 'prometheus')
  const url = new URL(prometheusSource?.url ?? '')
  // Prometheus listens on 9090 in the network of the service it shares.
  assert.equal(`service:${url.hostname}`, services.prometheus?.network_mode)
  assert.equal(url.port, '9090')
})
