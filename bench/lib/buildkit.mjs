// BuildKit for the benchmarks: the private dockerd of scripts/lib/dockerd.mjs
// (shared with the differential tests) in the workspace, with the
// benchmark's registry as an insecure registry. The daemon is already up
// when a scenario measures, as it is on a CI runner, so its start-up is not
// counted.
import { Dockerd } from '../../scripts/lib/dockerd.mjs';

export class BuildKit extends Dockerd {
  constructor(ws, { insecureRegistry }) {
    super(ws.path('docker'), { insecureRegistries: [insecureRegistry], debug: process.env.BENCH_DOCKERD_DEBUG === '1' });
    ws.onClose(() => this.stop());
  }
}
