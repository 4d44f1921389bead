// Instructions that only change the image config (and its history): ENV,
// LABEL, EXPOSE, VOLUME, USER, WORKDIR, ENTRYPOINT, CMD, SHELL, STOPSIGNAL,
// HEALTHCHECK, ONBUILD, MAINTAINER, ARG. Each returns the config change and
// the history text docker would record.
import { posix } from 'node:path';
import type { OciContainerConfig } from '../../image/runnable.js';
import type { CommandLine, StageInstruction } from '../index.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** The argv a CMD/ENTRYPOINT/RUN command line stands for, under the stage's SHELL. */
export function commandArgv(c: CommandLine, shell: readonly string[] | undefined): string[] {
  return c.form === 'exec' ? [...c.args] : [...(shell ?? DEFAULT_SHELL), c.args[0] ?? ''];
}

/** docker's history text for a config-only step. */
export function nopHistory(i: StageInstruction): string {
  return `/bin/sh -c #(nop) ${i.source.replace(/\s*\n\s*/g, ' ')}`;
}

/**
 * Applies a config instruction to `c` (mutated). `env` is the environment
 * after the step, as the front end computed it. Returns false for
 * instructions that are not config-only (RUN, COPY, ADD, FROM).
 */
export function applyConfigInstruction(i: StageInstruction, c: OciContainerConfig, env: ReadonlyMap<string, string>, state: { cmdFromBase: boolean }): boolean {
  switch (i.kind) {
    case 'env':
      c.Env = [...env].map(([k, v]) => `${k}=${v}`);
      return true;
    case 'label':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const { key, value } of i.labels) c.Labels[key] = value;
      return true;
    case 'expose':
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of i.ports) {
        if (!p.spec) continue;
        for (let port = p.spec.start; port <= p.spec.end; port++) c.ExposedPorts[`${port}/${p.spec.protocol}`] = {};
      }
      return true;
    case 'volume':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of i.paths) c.Volumes[v] = {};
      return true;
    case 'user':
      c.User = i.user;
      return true;
    case 'workdir':
      c.WorkingDir = posix.resolve(c.WorkingDir || '/', i.path);
      return true;
    case 'entrypoint':
      c.Entrypoint = commandArgv(i.command, c.Shell);
      // As docker: an ENTRYPOINT resets a CMD inherited from the base image.
      if (state.cmdFromBase) c.Cmd = null;
      return true;
    case 'cmd':
      c.Cmd = commandArgv(i.command, c.Shell);
      state.cmdFromBase = false;
      return true;
    case 'shell':
      c.Shell = [...i.shell];
      return true;
    case 'stopsignal':
      c.StopSignal = i.signal;
      return true;
    case 'healthcheck':
      if (i.test.type === 'none') c.Healthcheck = { Test: ['NONE'] };
      else {
        const cmd = i.test.command;
        c.Healthcheck = { Test: cmd.form === 'exec' ? ['CMD', ...cmd.args] : ['CMD-SHELL', cmd.args[0] ?? ''] };
        if (i.interval !== null) c.Healthcheck.Interval = i.interval;
        if (i.timeout !== null) c.Healthcheck.Timeout = i.timeout;
        if (i.startPeriod !== null) c.Healthcheck.StartPeriod = i.startPeriod;
        if (i.startInterval !== null) c.Healthcheck.StartInterval = i.startInterval;
        if (i.retries !== null) c.Healthcheck.Retries = i.retries;
      }
      return true;
    case 'onbuild':
      c.OnBuild = [...(c.OnBuild ?? []), i.expression];
      return true;
    case 'maintainer':
    case 'arg':
      return true;
    default:
      return false;
  }
}
