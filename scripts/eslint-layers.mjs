// A local ESLint plugin with one rule, `steer/layers`: a workspace imports only workspaces of lower layers
// (scripts/layers.mjs), only through their package.json `exports`, and never reaches into another workspace by a
// relative path.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYER_OF } from './layers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every workspace: name, absolute folder, layer, and the subpaths its package.json exports. */
function readWorkspaces() {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return workspaces.map((folder) => {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8'));
    const exported =
      typeof manifest.exports === 'object' && manifest.exports ? Object.keys(manifest.exports) : ['.'];
    return { name: manifest.name, dir: join(root, folder), layer: LAYER_OF.get(manifest.name), exported };
  });
}

const workspaces = readWorkspaces();
const byName = new Map(workspaces.map((w) => [w.name, w]));

function inside(dir, file) {
  const path = relative(dir, file);
  return path !== '' && !path.startsWith('..') && !path.startsWith(sep) && !/^[A-Za-z]:/.test(path);
}

function workspaceOf(file) {
  return workspaces.filter((w) => inside(w.dir, file)).sort((a, b) => b.dir.length - a.dir.length)[0];
}

/** `@steer/x/a/b` -> ['@steer/x', './a/b']; `steer-vscode` -> ['steer-vscode', '.']. */
function splitSpecifier(specifier) {
  const parts = specifier.split('/');
  const count = specifier.startsWith('@') ? 2 : 1;
  const rest = parts.slice(count).join('/');
  return [parts.slice(0, count).join('/'), rest ? `./${rest}` : '.'];
}

const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports point down the layers of scripts/layers.mjs, through public doors only' },
    messages: {
      unlisted: '{{name}} is not in scripts/layers.mjs; add it to the layer it belongs to',
      upward:
        '{{from}} (layer {{fromLayer}}) must not import {{to}} (layer {{toLayer}}): imports point down the layers of scripts/layers.mjs; move the shared code down or invert the dependency',
      internals:
        "'{{specifier}}' reaches into {{to}}'s internals; import what {{to}} exports ({{exported}}) or export it there",
      relative:
        "'{{specifier}}' reaches into {{to}} by a relative path; import it by its package name from its public door",
    },
    schema: [],
  },
  create(context) {
    const file = resolve(context.filename);
    const owner = workspaceOf(file);
    if (!owner) return {};
    const check = (source) => {
      if (!source || typeof source.value !== 'string') return;
      const specifier = source.value;
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (inside(owner.dir, target)) return;
        const other = workspaceOf(target);
        if (other)
          context.report({ node: source, messageId: 'relative', data: { specifier, to: other.name } });
        return;
      }
      const [name, subpath] = splitSpecifier(specifier);
      const target = byName.get(name);
      if (!target || target === owner) return;
      if (owner.layer === undefined) {
        context.report({ node: source, messageId: 'unlisted', data: { name: owner.name } });
        return;
      }
      if (target.layer === undefined) {
        context.report({ node: source, messageId: 'unlisted', data: { name: target.name } });
        return;
      }
      if (target.layer >= owner.layer) {
        const data = { from: owner.name, fromLayer: owner.layer, to: name, toLayer: target.layer };
        context.report({ node: source, messageId: 'upward', data });
      }
      if (!target.exported.includes(subpath)) {
        const exported = target.exported.map((p) => (p === '.' ? name : `${name}/${p.slice(2)}`)).join(', ');
        context.report({ node: source, messageId: 'internals', data: { specifier, to: name, exported } });
      }
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

export default { meta: { name: 'steer' }, rules: { layers: layersRule } };
