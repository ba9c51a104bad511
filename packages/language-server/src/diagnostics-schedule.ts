// When diagnostics are computed and published: a short while after the last edit of a document, and only if the
// document has not changed again meanwhile; cleared when it closes.
import type { Connection, Diagnostic, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';

/** Debounced validation of open documents. */
export interface DiagnosticsSchedule {
  /** Validates `document` after the delay, replacing a validation still waiting for it. */
  schedule(document: TextDocument): void;
  /** Drops a waiting validation and clears the document's diagnostics (it was closed). */
  closed(document: TextDocument): void;
  /** Drops every waiting validation (shutdown). */
  cancelAll(): void;
}

export interface DiagnosticsScheduleOptions {
  connection: Connection;
  documents: TextDocuments<TextDocument>;
  /** Milliseconds after an edit before the document is checked. */
  delayMs: number;
  /** The diagnostics of a document. */
  diagnose(document: TextDocument): Promise<Diagnostic[]>;
}

/** Creates the schedule; failures of `diagnose` go to the client's log. */
export function createDiagnosticsSchedule(options: DiagnosticsScheduleOptions): DiagnosticsSchedule {
  const { connection, documents } = options;
  const timers = new Map<string, NodeJS.Timeout>();
  const validate = async (document: TextDocument): Promise<void> => {
    const diagnostics = await options.diagnose(document);
    if (documents.get(document.uri)?.version !== document.version) return; // edited meanwhile
    await connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  };
  return {
    schedule(document) {
      clearTimeout(timers.get(document.uri));
      timers.set(
        document.uri,
        setTimeout(() => {
          timers.delete(document.uri);
          validate(document).catch((cause) =>
            connection.console.error(`diagnostics: ${(cause as Error)?.stack ?? cause}`),
          );
        }, options.delayMs),
      );
    },
    closed(document) {
      clearTimeout(timers.get(document.uri));
      void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
    },
    cancelAll() {
      for (const timer of timers.values()) clearTimeout(timer);
    },
  };
}
