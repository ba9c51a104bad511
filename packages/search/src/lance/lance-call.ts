// LanceDB calls and their failures as SearchErrors that say what was being done.
import { SearchError } from '../errors.js';

export function notFound(name: string, root: string): SearchError {
  return new SearchError(
    'index_not_found',
    `lancedb: no index '${name}' in ${root}; create it first (steer index) or check the index name and --data-dir`,
  );
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs a LanceDB call, turning its errors into SearchError `backend_error` that says what was being done. */
export async function lance<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof SearchError) throw error;
    throw new SearchError('backend_error', `lancedb: ${what} failed: ${message(error)}`, { cause: error });
  }
}
