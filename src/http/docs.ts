import { openapi } from '@elysiajs/openapi';
import { Elysia } from 'elysia';
import { installLeanFormats } from './formats';
import { ProblemError } from './problem';
import { seedOf } from './seed';
// Swagger UI is embedded into the compiled binary (air-gapped networks reach no CDN).
import swaggerBundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import swaggerCss from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
import favicon from 'swagger-ui-dist/favicon-32x32.png' with { type: 'file' };

// After the openapi import above has replaced them (see formats.ts).
installLeanFormats();

/** A Map, not an object literal: `constructor`, `__proto__` or `toString` must be unknown names, not inherited members. */
const ASSETS = new Map<string, { file: string; type: string }>([
  ['swagger-ui-bundle.js', { file: swaggerBundle, type: 'text/javascript; charset=utf-8' }],
  ['swagger-ui.css', { file: swaggerCss, type: 'text/css; charset=utf-8' }],
  ['favicon-32x32.png', { file: favicon, type: 'image/png' }],
]);

/**
 * Swagger UI options the plugin's type leaves out (`url`) or types too narrowly (`validatorUrl`
 * takes null); the plugin hands them to SwaggerUIBundle as they are. Typed as a plain object so
 * the options above stay type-checked: a typo there would silently fall back to a CDN.
 */
const SWAGGER_UI_PASSTHROUGH: object = {
  // Absolute, so /docs/ (trailing slash) finds the spec too.
  url: '/docs/json',
  // Swagger UI would otherwise send the spec's URL to validator.swagger.io for a badge.
  validatorUrl: null,
};

/** OpenAPI document at /docs/json and Swagger UI at /docs, every byte served by this process. */
export function docsPlugin(info: { version: string }) {
  return new Elysia({ name: 'pipewatch/docs', seed: seedOf(info.version) })
    .use(
      openapi({
        path: '/docs',
        specPath: '/docs/json',
        provider: 'swagger-ui',
        swagger: {
          // Every asset from this process: a mistyped or missing option silently falls back to unpkg.com.
          cdn: '/docs/assets/swagger-ui-bundle.js',
          theme: '/docs/assets/swagger-ui.css',
          autoDarkMode: false,
          ...SWAGGER_UI_PASSTHROUGH,
        },
        exclude: { paths: [/^\/docs/] },
        documentation: {
          info: {
            title: 'pipewatch',
            version: info.version,
            description:
              'Ingests citizen records and processes them on a durable background queue. Errors are RFC 9457 problem details (application/problem+json) that name fields and rules, never submitted values.',
          },
          tags: [
            { name: 'Submissions', description: 'Citizen records in, processing status out' },
            { name: 'Operations', description: 'Health, readiness and metrics' },
          ],
        },
      }),
    )
    .get(
      '/docs/assets/:asset',
      ({ params, set }) => {
        const asset = ASSETS.get(params.asset);
        if (!asset) throw new ProblemError('not-found', 'No such documentation asset.');
        set.headers['content-type'] = asset.type;
        set.headers['cache-control'] = 'public, max-age=86400';
        return Bun.file(asset.file);
      },
      { detail: { hide: true } },
    );
}
