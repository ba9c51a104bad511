// Presets stored as .steer files in a folder (default .steer/presets/), one `<name>.steer` per preset, each
// bound to the SAE it was made for by a `# sae: <id>` header pragma. Writes are atomic (temp file + rename).
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import {
  compilePreset,
  format,
  parse,
  type Diagnostic,
  type FeatureCatalog,
  type PlannedEdit,
  type PresetDefinition,
  type PresetStore,
  type SteerFile,
} from '@steer/grammar';
import { PresetError } from './errors.js';

/** Where presets live unless the caller says otherwise (relative to the working directory). */
export const DEFAULT_PRESETS_DIR = '.steer/presets';

/** Preset names: a letter or `_`, then letters, digits, `_` and `-` (they are also file names). */
export const PRESET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/;
const RESERVED = new Set(['where', 'and', 'or', 'not', 'preset', 'true', 'false']);

/** A preset as listed: its name, SAE binding and edits (canonical text after `preset <name> =`). */
export interface PresetSummary {
  name: string;
  path: string;
  saeId?: string;
  /** The edits, canonically formatted (`+@salary*0.5 +@jobs*0.3`); empty when the file does not parse. */
  edits: string;
  /** Why the file could not be read as a preset, when it could not. */
  problem?: string;
}

/** A preset with its full file text. */
export interface PresetDetails extends PresetSummary {
  text: string;
  savedAt?: string;
}

export interface SavePresetOptions {
  /** The SAE the preset is made for; defaults to `catalog.saeId`. */
  saeId?: string;
  /** Catalog used to check that every feature, alias and concept resolves. */
  catalog: FeatureCatalog;
  /** Replace an existing preset of the same name (default true); false makes an existing one an error. */
  overwrite?: boolean;
}

export interface SaveResult extends PresetDetails {
  /** Warnings from compiling the preset (e.g. features without a typical activation). */
  diagnostics: Diagnostic[];
  /** The resolved edits against the catalog it was saved with. */
  resolved: PlannedEdit[];
}

function checkName(name: string): void {
  if (
    typeof name !== 'string' ||
    !PRESET_NAME_PATTERN.test(name) ||
    RESERVED.has(name.toLowerCase()) ||
    /^f[0-9]+$/.test(name)
  ) {
    throw new PresetError(
      'invalid-preset-name',
      `presets: '${name}' is not a valid preset name; use a letter or _ followed by letters, digits, _ or - (not a keyword or a feature id like f12)`,
    );
  }
}

function presetPath(dir: string, name: string): string {
  return join(dir, `${name}.steer`);
}

function describe(diagnostics: Diagnostic[]): string {
  return diagnostics
    .slice(0, 3)
    .map((d) => `${d.message} (column ${d.range.start.character + 1})`)
    .join('; ');
}

/** Reads a preset file's text into its parts; never throws. */
function readPreset(name: string, path: string, text: string): PresetDetails {
  const { ast, errors } = parse(text);
  const saeId = ast.header.find((p) => p.key === 'sae')?.value;
  const savedAt = ast.header.find((p) => p.key === 'saved')?.value;
  const definition = ast.statements.find(
    (s): s is PresetDefinition => s.kind === 'preset-definition' && s.name === name,
  );
  const details: PresetDetails = { name, path, text, edits: '' };
  if (saeId !== undefined) details.saeId = saeId;
  if (savedAt !== undefined) details.savedAt = savedAt;
  const firstError = errors.find((e) => e.severity === 'error');
  if (firstError) details.problem = `line ${firstError.range.start.line + 1}: ${firstError.message}`;
  else if (!definition) details.problem = `no 'preset ${name} = ...' line`;
  if (definition && !firstError)
    details.edits = format({ ...ast, header: [], statements: [definition] })
      .trim()
      .replace(/^preset \S+ =\s?/, '');
  return details;
}

/**
 * Validates `editsText` (e.g. `+@salary*0.5 +@jobs*0.3`) against the catalog and saves it as preset `name`
 * in `dir`, bound to the SAE. Returns the saved preset with compile warnings.
 * Throws PresetError: 'invalid-preset-name', 'invalid-preset' (with diagnostics), 'preset-exists', 'missing-sae-id'.
 */
export async function savePreset(
  dir: string,
  name: string,
  editsText: string,
  options: SavePresetOptions,
): Promise<SaveResult> {
  checkName(name);
  const saeId = options.saeId ?? options.catalog?.saeId;
  if (!saeId || /\s/.test(saeId)) {
    throw new PresetError(
      'missing-sae-id',
      `presets: preset '${name}' needs the id of the SAE it is made for (got ${JSON.stringify(saeId)}); pass saeId or a catalog with one`,
    );
  }
  const body = String(editsText ?? '').trim();
  if (/[\r\n]/.test(body)) {
    throw new PresetError(
      'invalid-preset',
      `presets: the edits of '${name}' must be on one line; join the lines with spaces`,
    );
  }
  const source = `preset ${name} = ${body}`;
  const { ast, errors } = parse(source);
  const offset = source.length - body.length;
  const shift = (d: Diagnostic): Diagnostic => ({
    ...d,
    range: {
      start: { line: 0, character: Math.max(0, d.range.start.character - offset) },
      end: { line: 0, character: Math.max(0, d.range.end.character - offset) },
    },
  });
  const definition = ast.statements[0];
  const syntaxErrors = errors.filter((e) => e.severity === 'error').map(shift);
  if (syntaxErrors.length > 0 || ast.statements.length !== 1 || definition?.kind !== 'preset-definition') {
    throw new PresetError(
      'invalid-preset',
      `presets: the edits of '${name}' do not parse: ${describe(syntaxErrors)}`,
      syntaxErrors,
    );
  }
  if (definition.steers.length === 0) {
    throw new PresetError(
      'invalid-preset',
      `presets: preset '${name}' has no edits; give edits like +@salary*0.5 -f12`,
    );
  }
  const compiled = await compilePreset(definition, {
    catalog: options.catalog,
    presets: new FolderPresetStore(dir),
  });
  const diagnostics = compiled.diagnostics.map(shift);
  const compileErrors = diagnostics.filter((d) => d.severity === 'error');
  if (compileErrors.length > 0) {
    throw new PresetError(
      'invalid-preset',
      `presets: preset '${name}' does not compile against SAE ${options.catalog.saeId}: ${describe(compileErrors)}`,
      compileErrors,
    );
  }
  const file: SteerFile = {
    kind: 'file',
    header: [
      { kind: 'pragma', key: 'sae', value: saeId, range: definition.range },
      { kind: 'pragma', key: 'saved', value: new Date().toISOString(), range: definition.range },
    ],
    statements: [definition],
    range: definition.range,
  };
  const text = format(file);
  await mkdir(dir, { recursive: true });
  const path = presetPath(dir, name);
  try {
    await writeFileAtomic(path, text, { overwrite: options.overwrite ?? true });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PresetError(
        'preset-exists',
        `presets: preset '${name}' already exists in ${dir}; remove it first or save with overwrite`,
      );
    }
    throw cause;
  }
  return { ...readPreset(name, path, text), diagnostics, resolved: compiled.edits };
}

/** Lists the presets in `dir` by name (an absent folder has none). Files that do not parse carry `problem`. */
export async function listPresets(dir: string): Promise<PresetSummary[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw cause;
  }
  const presets: PresetSummary[] = [];
  for (const file of names.sort()) {
    const name = file.slice(0, -'.steer'.length);
    if (!file.endsWith('.steer') || !PRESET_NAME_PATTERN.test(name)) continue;
    const path = presetPath(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while listing
      throw cause;
    }
    const { text: _text, savedAt: _savedAt, ...summary } = readPreset(name, path, text);
    presets.push(summary);
  }
  return presets;
}

async function readExisting(dir: string, name: string): Promise<{ path: string; text: string }> {
  checkName(name);
  const path = presetPath(dir, name);
  try {
    return { path, text: await readFile(path, 'utf8') };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    const known = (await listPresets(dir)).map((p) => p.name);
    throw new PresetError(
      'preset-not-found',
      `presets: no preset '${name}' in ${dir}; ${known.length ? `saved presets: ${known.join(', ')}` : 'save one first'}`,
    );
  }
}

/** The preset `name` in `dir` with its file text. Throws PresetError 'preset-not-found' or 'invalid-preset-name'. */
export async function showPreset(dir: string, name: string): Promise<PresetDetails> {
  const { path, text } = await readExisting(dir, name);
  return readPreset(name, path, text);
}

/** Deletes the preset `name` from `dir`. Throws PresetError 'preset-not-found' or 'invalid-preset-name'. */
export async function removePreset(dir: string, name: string): Promise<void> {
  const { path } = await readExisting(dir, name);
  try {
    await unlink(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    throw new PresetError('preset-not-found', `presets: preset '${name}' was removed from ${dir} meanwhile`);
  }
}

/** The PresetStore that compile() reads `$name` from: `<dir>/<name>.steer` and its `# sae:` header. */
export class FolderPresetStore implements PresetStore {
  constructor(readonly dir: string = DEFAULT_PRESETS_DIR) {}

  async get(name: string): Promise<{ text: string; saeId?: string } | undefined> {
    if (!PRESET_NAME_PATTERN.test(name)) return undefined;
    let text: string;
    try {
      text = await readFile(presetPath(this.dir, name), 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw cause;
    }
    const saeId = parse(text).ast.header.find((p) => p.key === 'sae')?.value;
    return saeId === undefined ? { text } : { text, saeId };
  }
}
