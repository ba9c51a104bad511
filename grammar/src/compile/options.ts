// Search options of a query (`k=`, `mode=`, `steer=`, `code=`, `index=`, `candidates=`), checked and collected.
import type { OptionSetting } from '../ast.js';
import { CODE_VALUES, MAX_RESULTS, MODE_VALUES, OPTION_KEYS, STEER_VALUES } from '../ast-builder.js';
import type { Resolution } from './resolution.js';
import { CompileCode } from './types.js';
import type { SearchOptions } from './types.js';

export function compileOptions(options: readonly OptionSetting[], res: Resolution): SearchOptions {
  const out: SearchOptions = {};
  const seen = new Map<string, OptionSetting>();
  for (const option of options) {
    const previous = seen.get(option.key);
    if (previous) {
      res.report(
        CompileCode.DuplicateOption,
        `option ${option.key} is given twice (${previous.key}=${previous.value} and ${option.key}=${option.value}); the last one is used`,
        option.range,
        'warning',
      );
    }
    seen.set(option.key, option);
    const { key, value } = option;
    const bad = (expected: string) =>
      res.report(
        CompileCode.InvalidOption,
        `expected ${key} to be ${expected}, found ${JSON.stringify(value)}`,
        option.range,
      );
    switch (key) {
      case 'k':
      case 'candidates':
        if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_RESULTS) {
          if (key === 'k') out.k = value;
          else out.numCandidates = value;
        } else bad(`a whole number from 1 to ${MAX_RESULTS}`);
        break;
      case 'mode':
        if ((MODE_VALUES as readonly unknown[]).includes(value)) out.mode = value as SearchOptions['mode'];
        else bad(`one of ${MODE_VALUES.join(', ')}`);
        break;
      case 'steer':
        if ((STEER_VALUES as readonly unknown[]).includes(value)) out.steer = value as SearchOptions['steer'];
        else bad(`one of ${STEER_VALUES.join(', ')}`);
        break;
      case 'code':
        if ((CODE_VALUES as readonly unknown[]).includes(value)) out.code = value as SearchOptions['code'];
        else bad(`one of ${CODE_VALUES.join(', ')}`);
        break;
      case 'index':
        if (typeof value === 'string' && value !== '') out.index = value;
        else bad('an index name');
        break;
      default:
        res.report(
          CompileCode.UnknownOption,
          `unknown option '${key}': expected one of ${OPTION_KEYS.join(', ')}`,
          option.range,
        );
    }
  }
  if (out.k !== undefined && out.numCandidates !== undefined && out.numCandidates < out.k) {
    res.report(
      CompileCode.InvalidOption,
      `candidates=${out.numCandidates} is below k=${out.k}: a search cannot return more hits than it examines; raise candidates`,
      seen.get('candidates')!.range,
      'warning',
    );
  }
  return out;
}
