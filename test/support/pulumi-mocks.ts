import * as pulumi from '@pulumi/pulumi';
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc';

/** One resource the program registered, as the Pulumi engine would have received it. */
export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

/**
 * Pulumi's mocks record every resource a program registers. setMocks is process-global, so each
 * test file calls this once and runs the program many times with different config.
 */
export function installPulumiMocks(options: { outputs?: (r: Registered) => Record<string, unknown>; calls?: Record<string, Record<string, unknown>> } = {}) {
  const registered: Registered[] = [];
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const r = { type: args.type, name: args.name, inputs: args.inputs };
        registered.push(r);
        return { id: `${args.name}-id`, state: { ...args.inputs, ...options.outputs?.(r) } };
      },
      call(args) {
        const result = options.calls?.[args.token];
        if (!result) throw new Error(`unexpected invoke ${args.token}`);
        return result;
      },
    },
    'pipewatch',
    'test',
    false,
  );
  return {
    registered,
    /** Runs the program with this stack config (keys without namespace are pipewatch:KEY). */
    async run<T>(
      program: () => T,
      config: Record<string, string>,
      secretKeys: string[] = [],
    ): Promise<{ outputs: Record<string, unknown>; resources: Registered[] }> {
      registered.length = 0;
      const full = (key: string) => (key.includes(':') ? key : `pipewatch:${key}`);
      const all: Record<string, string> = {};
      for (const [key, value] of Object.entries(config)) all[full(key)] = value;
      // As `pulumi config set --secret` leaves them: encrypted in the stack file, marked secret here.
      pulumi.runtime.setAllConfig(all, secretKeys.map(full));
      const result = program() as Record<string, unknown>;
      const outputs: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(result)) outputs[key] = await resolve(value);
      await settle(registered);
      return { outputs, resources: [...registered] };
    },
  };
}

/** The value of an Output (or plain value); undefined when unknown. */
export function resolve<T>(value: pulumi.Input<T> | undefined): Promise<T | undefined> {
  if (!pulumi.Output.isInstance(value)) return Promise.resolve(value as T | undefined);
  return new Promise((done) => (value as pulumi.Output<T>).apply((v) => done(v)));
}

/** Whether an Output is marked secret (plain values never are). */
export async function isSecret(value: unknown): Promise<boolean> {
  if (!pulumi.Output.isInstance(value)) return false;
  return await (value as unknown as { isSecret: Promise<boolean> }).isSecret;
}

/** Registrations are asynchronous: wait until no new resource has appeared for a while. */
async function settle(registered: Registered[]): Promise<void> {
  let last = -1;
  let quiet = 0;
  while (quiet < 5) {
    await new Promise((r) => setTimeout(r, 10));
    if (registered.length === last) quiet++;
    else {
      quiet = 0;
      last = registered.length;
    }
  }
}

/** Resource inputs arrive with secrets wrapped; this says whether one was and gives its value. */
export function secretInput<T = unknown>(value: unknown): { secret: boolean; value: T } {
  const wrapped = value as Record<string, unknown> | null;
  if (wrapped && typeof wrapped === 'object' && wrapped[specialSigKey] === specialSecretSig) return { secret: true, value: wrapped.value as T };
  return { secret: false, value: value as T };
}

/** The inputs with top-level secrets unwrapped (check secretness with secretInput first). */
export function plain(inputs: Record<string, unknown>): Record<string, any> {
  return Object.fromEntries(Object.entries(inputs).map(([key, value]) => [key, secretInput(value).value]));
}

export function ofType(resources: Registered[], type: string): Registered[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: Registered[], type: string, name?: string): Registered {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1)
    throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length}: ${resources.map((r) => `${r.type}/${r.name}`).join(', ')}`);
  return found[0]!;
}
