import { afterAll, describe, expect, test } from 'bun:test';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { binaryCommit, binaryInputs, DOCKERFILE } from '../infra/container/image';
import { REPO_ROOT } from '../infra/monitoring-files';
import { startService, submit } from './support/service';

/** One Dockerfile instruction, continuation lines joined, comments dropped. */
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  /** e.g. `--platform=$BUILDPLATFORM` */
  flags: string[];
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const words = args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const [from, as, name] = words.filter((w) => !w.startsWith('--'));
      stages.push({ from: from!, flags, ...(as?.toUpperCase() === 'AS' ? { name } : {}), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args: args.replace(/\s+/g, ' ') });
    }
  }
  return stages;
}

const dockerfile = readFileSync(join(REPO_ROOT, DOCKERFILE), 'utf8');
const [build, runtime] = parseDockerfile(dockerfile) as [Stage, Stage];
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  packageManager: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const workdir = ops(build, 'WORKDIR').at(-1)!;
/** `COPY a b ./` in the build stage: [sources, destination]. */
const buildCopies = ops(build, 'COPY').map((args) => {
  const parts = args.split(' ').filter((p) => !p.startsWith('--'));
  return { sources: parts.slice(0, -1), dest: parts.at(-1)! };
});
const outfile = /--outfile[= ](\S+)/.exec(pkg.scripts.build ?? '')?.[1];

const temp = mkdtempSync(join(tmpdir(), 'pipewatch-container-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('container image definition (infra/container/Dockerfile)', () => {
  test("the build stage runs the project's own build script, with the pinned Bun, on the builder's platform, cross-compiling for the image's", () => {
    expect(build.name).toBe('build');
    // Not emulated: an arm64 laptop runs its own Bun to make the linux/amd64 Cloud Run binary.
    expect(build.flags).toEqual(['--platform=$BUILDPLATFORM']);
    expect(build.from).toBe(`oven/bun:${pkg.packageManager.split('@')[1]}`);
    expect(runtime.flags).toEqual([]); // the image's own platform
    expect(ops(build, 'ARG')).toContain('TARGETARCH');
    const compile = ops(build, 'RUN').find((r) => r.includes('bun run build'))!;
    expect(compile).toContain('amd64) target=bun-linux-x64');
    expect(compile).toContain('arm64) target=bun-linux-arm64');
    expect(compile).toEndWith('bun run build --target=$target');
    // The runtime stage runs nothing: nothing there needs the image's platform to execute.
    expect(ops(runtime, 'RUN')).toEqual([]);
    expect(pkg.scripts.build).toStartWith('bun build src/main.ts ');
    expect(pkg.scripts.build).toContain(' --compile ');
    expect(outfile).toBe('dist/pipewatch');
  });

  test('the runtime stage is a small non-root glibc image holding only the binary, health-checked on /healthz', () => {
    expect(runtime.from).toStartWith('gcr.io/distroless/base-debian12:nonroot');
    expect(runtime.from).not.toContain('alpine');
    const user = ops(runtime, 'USER').at(-1)!;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const copies = ops(runtime, 'COPY');
    // The binary the build script wrote, and an empty data dir for the queue (owned by the user).
    expect(copies).toEqual([`--from=build ${posix.join(workdir, outfile!)} /app/pipewatch`, `--from=build --chown=${user} /rootfs/data /data`]);
    expect(JSON.parse(ops(runtime, 'ENTRYPOINT')[0]!)).toEqual(['/app/pipewatch']);
    const healthcheck = ops(runtime, 'HEALTHCHECK')[0]!;
    expect(JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4))).toEqual(['/app/pipewatch', 'healthcheck']);
    expect(ops(runtime, 'ENV').join(' ')).toContain('DATA_DIR=/data');
  });

  test('the build context allow-list (Dockerfile.dockerignore) holds everything the build stage copies', () => {
    const ignore = readFileSync(join(REPO_ROOT, `${DOCKERFILE}.dockerignore`), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('**');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    for (const { sources } of buildCopies) for (const source of sources) expect(allowed).toContain(source);
  });

  test('the build stage installs production dependencies only, and the source imports nothing else', () => {
    expect(ops(build, 'RUN')).toContain('bun install --frozen-lockfile --production --ignore-scripts');
    const transpiler = new Bun.Transpiler({ loader: 'ts' });
    const missing: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
          for (const { path: spec } of transpiler.scanImports(readFileSync(path, 'utf8'))) {
            if (spec.startsWith('.') || spec === 'bun' || spec.startsWith('bun:') || spec.startsWith('node:')) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!(name in pkg.dependencies)) missing.push(`${path.slice(REPO_ROOT.length + 1)} imports ${spec}`);
          }
        }
      }
    };
    walk(join(REPO_ROOT, 'src'));
    expect(missing).toEqual([]);
  });
});

describe('the image changes only when the binary can', () => {
  test('the commit passed to the build is the last one that touched a build input, -dirty while one is edited', () => {
    const repo = mkdtempSync(join(temp, 'git-'));
    const git = (...args: string[]) => {
      const run = Bun.spawnSync(['git', '-c', 'user.email=t@example.org', '-c', 'user.name=t', '-c', 'commit.gpgsign=false', ...args], {
        cwd: repo,
        stdout: 'pipe',
        stderr: 'pipe',
      });
      if (run.exitCode !== 0) throw new Error(run.stderr.toString());
      return run.stdout.toString().trim();
    };
    git('init', '-q');
    mkdirSync(join(repo, 'infra/container'), { recursive: true });
    mkdirSync(join(repo, 'src'));
    copyFileSync(join(REPO_ROOT, DOCKERFILE), join(repo, DOCKERFILE));
    copyFileSync(join(REPO_ROOT, `${DOCKERFILE}.dockerignore`), join(repo, `${DOCKERFILE}.dockerignore`));
    for (const file of ['package.json', 'bun.lock', 'bunfig.toml', 'tsconfig.json', 'README.md', 'src/main.ts'])
      writeFileSync(join(repo, file), `${file} v1\n`);
    git('add', '-A');
    git('commit', '-qm', 'first');
    const first = git('rev-parse', 'HEAD');
    expect(binaryInputs(repo)).toEqual(expect.arrayContaining(['src', 'package.json', 'bun.lock', DOCKERFILE]));
    expect(binaryCommit(repo)).toBe(first);

    // A README-only commit (or one in test/, infra/gcp/ ...) leaves the build argument, so every layer is cached.
    writeFileSync(join(repo, 'README.md'), 'README v2\n');
    git('commit', '-qam', 'docs');
    expect(git('rev-parse', 'HEAD')).not.toBe(first);
    expect(binaryCommit(repo)).toBe(first);

    writeFileSync(join(repo, 'src/main.ts'), 'main v2\n');
    expect(binaryCommit(repo)).toBe(`${first}-dirty`);
    git('commit', '-qam', 'code');
    expect(binaryCommit(repo)).toBe(git('rev-parse', 'HEAD'));
    writeFileSync(join(repo, 'src/new-module.ts'), 'new\n'); // untracked, but copied into the image
    expect(binaryCommit(repo)).toEndWith('-dirty');
    expect(binaryCommit(join(temp, `not-a-repo-${Date.now()}`))).toBe('unknown');
  });
});

describe('the binary the build stage makes', () => {
  test('built by `bun run build` from exactly the copied files, it runs alone, serves /healthz and its HEALTHCHECK passes', async () => {
    // The build stage, step by step: copy what the Dockerfile copies into WORKDIR (the repo's
    // node_modules stands in for `bun install`), then run its build command there.
    const work = join(temp, 'src');
    mkdirSync(work, { recursive: true });
    for (const { sources, dest } of buildCopies) {
      for (const source of sources) {
        const target = dest.endsWith('/') ? join(work, dest, source.split('/').at(-1)!) : join(work, dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(REPO_ROOT, source), target, { recursive: true });
      }
    }
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(work, 'node_modules'));
    // As in the Dockerfile: no .git in the context, the commit arrives as the PIPEWATCH_COMMIT build argument.
    expect(ops(build, 'ARG')).toContain('PIPEWATCH_COMMIT=unknown');
    // The Dockerfile's command for this machine's architecture (what BuildKit's TARGETARCH would be).
    const target = process.arch === 'arm64' ? 'bun-linux-arm64' : 'bun-linux-x64';
    const built = Bun.spawnSync(['bun', 'run', 'build', `--target=${target}`], {
      cwd: work,
      stdout: 'pipe',
      stderr: 'pipe',
      env: { ...process.env, PIPEWATCH_COMMIT: 'c0ffee' },
    });
    expect(`${built.exitCode} ${built.stderr.toString()}`).toStartWith('0 ');

    // The runtime stage: that file alone, no node_modules, no sources around it.
    const root = join(temp, 'runtime');
    mkdirSync(join(root, 'app'), { recursive: true });
    const binary = join(root, 'app', 'pipewatch');
    copyFileSync(join(work, outfile!), binary);
    const service = await startService({ command: [binary], cwd: root, env: { QUEUE_DRIVER: 'sqlite' } });
    try {
      const health = await fetch(`${service.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect((await fetch(`${service.url}/docs`)).status).toBe(200);
      expect((await fetch(`${service.url}/docs/assets/swagger-ui-bundle.js`)).status).toBe(200); // embedded, no CDN
      expect((await submit(service.url)).status).toBe(202);
      expect(await (await fetch(`${service.url}/metrics`)).text()).toContain(`pipewatch_build_info{version="${pkg.version}",commit="c0ffee"`);
      expect(readdirSync(service.dataDir).length).toBeGreaterThan(0); // the queue lives in DATA_DIR

      const healthcheck = JSON.parse(ops(runtime, 'HEALTHCHECK')[0]!.split('CMD ')[1]!) as string[];
      const probe = (port: number) =>
        Bun.spawnSync([binary, ...healthcheck.slice(1)], {
          env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: service.dataDir },
        }).exitCode;
      expect(probe(service.port)).toBe(0);
      expect(await service.stop('SIGTERM')).toBe(0); // `docker stop` sends SIGTERM
      expect(probe(service.port)).toBe(1);
    } finally {
      await service.stop('SIGKILL');
      rmSync(service.dataDir, { recursive: true, force: true });
    }
    expect(existsSync(join(work, 'dist', 'pipewatch'))).toBe(true);
  });
});
