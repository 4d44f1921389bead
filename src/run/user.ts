// `-u USER[:GROUP]` to numeric ids, resolved through the image's own
// /etc/passwd and /etc/group as docker does: names must exist there, numbers
// need not. Supplementary groups are every group listing the user.
import { TsbuildError } from '../errors.js';
import { stackView } from '../image/stack-view.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).flatMap((l) => {
    const f = l.split(':');
    if (f.length < 7) return [];
    return [{ name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]), home: f[5] as string }];
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).flatMap((l) => {
    const f = l.split(':');
    if (f.length < 4) return [];
    return [{ name: f[0] as string, gid: Number(f[2]), members: (f[3] as string).split(',').filter(Boolean) }];
  });
}

const isNumeric = (s: string) => /^\d+$/.test(s);

/** Resolves a user spec against passwd/group file contents (either may be absent). */
export function resolveUserSpec(spec: string, passwdText: string | undefined, groupText: string | undefined): ResolvedUser {
  // No USER at all means uid 0, whether or not the image has a passwd file.
  const [userPart = '', groupPart] = spec === '' ? ['0'] : spec.split(':', 2);
  const passwd = parsePasswd(passwdText ?? '');
  const groups = parseGroup(groupText ?? '');
  const entry = isNumeric(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
  if (!entry && !isNumeric(userPart)) {
    throw new TsbuildError('E_USER_NOT_FOUND', `unable to find user ${userPart}: no matching entries in passwd file`, { exitCode: 125 });
  }
  const uid = entry ? entry.uid : Number(userPart);
  let gid = entry ? entry.gid : 0;
  if (groupPart !== undefined && groupPart !== '') {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw new TsbuildError('E_GROUP_NOT_FOUND', `unable to find group ${groupPart}: no matching entries in group file`, { exitCode: 125 });
      gid = g.gid;
    }
  }
  const supplementary = entry ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  const all = [gid, ...supplementary.filter((g) => g !== gid)];
  return { uid, gid, groups: all, home: entry?.home ?? '/' };
}

/** Resolves `spec` in the image layers `layerDirs` (bottom first) and a container's `own` layers on them. */
export function resolveUser(layerDirs: readonly string[], spec: string, own: readonly string[] = []): ResolvedUser {
  const view = stackView(layerDirs, own);
  return resolveUserSpec(spec, view.readFile('/etc/passwd'), view.readFile('/etc/group'));
}
