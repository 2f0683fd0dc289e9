import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** USER_HZ, the unit of utime and stime in /proc/<pid>/stat. */
function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return ticksPerSecond
}

/** CPU-seconds (user + system, every thread) a process has used so far; NaN once it has exited. */
export function cpuSeconds(pid: number): number {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return Number.NaN
  }
  // Fields after the command name (which may contain spaces) start with field 3, `state`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / clockTicks()
}

/** CPU-seconds the whole machine has spent busy (every core: user, nice, system, irq, softirq, steal). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicks()
  )
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) * 1024
}

/** The highest RSS of a process, read every `everyMs` between start() and stop(). */
export class RssPeak {
  private peak = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly pid: number,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    this.peak = rssBytes(this.pid)
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, rssBytes(this.pid))
    }, this.everyMs)
  }

  stop(): number {
    clearInterval(this.timer)
    return Math.max(this.peak, rssBytes(this.pid))
  }
}

/** CPU-seconds used so far by a process, or by several together. */
export function groupCpuSeconds(pids: number | readonly number[]): number {
  return (typeof pids === 'number' ? [pids] : pids).reduce((sum, pid) => sum + cpuSeconds(pid), 0)
}

/**
 * Cores used by some processes over a window: CPU-seconds per wall-second between start() and
 * stop(), for each named pid (or group of pids, summed); and `other`: what the rest of the machine
 * used meanwhile (anything but these processes, e.g. another job on the same machine disturbing
 * the figures).
 */
export class CpuMeter {
  private startCpu = new Map<string, number>()
  private startWall = 0
  private startBusy = 0

  constructor(private readonly pids: Record<string, number | readonly number[]>) {}

  start(): void {
    this.startWall = performance.now()
    this.startBusy = machineBusySeconds()
    for (const [name, pids] of Object.entries(this.pids)) this.startCpu.set(name, groupCpuSeconds(pids))
  }

  /** Cores used by each process since start(), by the rest of the machine (`other`), and the window's length. */
  stop(): { cores: Record<string, number>; other: number; seconds: number } {
    const seconds = (performance.now() - this.startWall) / 1000
    const busy = (machineBusySeconds() - this.startBusy) / seconds
    const cores: Record<string, number> = {}
    let ours = 0
    for (const [name, pids] of Object.entries(this.pids)) {
      cores[name] = (groupCpuSeconds(pids) - (this.startCpu.get(name) ?? 0)) / seconds
      ours += cores[name] ?? 0
    }
    return { cores, other: Math.max(0, busy - ours), seconds }
  }
}
