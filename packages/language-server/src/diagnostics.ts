// Diagnostics: the parser's recovery errors, the compiler's checks against the catalog and presets, and
// project problems (config, SAE and embedder mismatch).
import { compileText, type Diagnostic as SteerDiagnostic } from '@steer/grammar';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from './context.js';
import { parsed } from './document.js';

/** Diagnostics of a whole .steer document. */
export interface DiagnosticsProvider {
  diagnose(document: TextDocument, context: DocumentContext): Promise<Diagnostic[]>;
}

/** Codes of diagnostics the language server adds to the grammar's. */
export const ServerDiagnosticCode = {
  SaeMismatch: 'sae-mismatch',
  EmbedderMismatch: 'embedder-mismatch',
  ConfigInvalid: 'config-invalid',
  CatalogUnavailable: 'catalog-unavailable',
} as const;

const SEVERITY: Record<SteerDiagnostic['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

/** Converts a grammar diagnostic to an LSP one (source `steer`). */
export function toLspDiagnostic(diagnostic: SteerDiagnostic): Diagnostic {
  return {
    range: diagnostic.range,
    severity: SEVERITY[diagnostic.severity],
    code: diagnostic.code,
    source: 'steer',
    message: diagnostic.message,
  };
}

/** Creates the default diagnostics provider. */
export function createDiagnosticsProvider(): DiagnosticsProvider {
  return {
    async diagnose(document, context) {
      const result = parsed(document);
      const found: SteerDiagnostic[] = [...context.problems];
      if (context.catalog) {
        const compiled = await compileText(document.getText(), {
          catalog: context.catalog,
          ...(context.presets ? { presets: context.presets.store } : {}),
        });
        found.push(...compiled.diagnostics);
        const pragma = result.ast.header.find((p) => p.key === 'sae');
        if (pragma && pragma.value !== context.catalog.saeId) {
          found.push({
            code: ServerDiagnosticCode.SaeMismatch,
            message: `this file is for SAE ${pragma.value} but steer.config.json configures SAE ${context.catalog.saeId}; feature ids mean different things in another SAE — use aliases, or the SAE this file was written for`,
            range: pragma.range,
            severity: 'warning',
          });
        }
      } else {
        found.push(...result.errors);
      }
      return found.map(toLspDiagnostic);
    },
  };
}
