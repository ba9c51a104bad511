// `steer lsp --stdio`: runs the Steer language server for .steer files on stdin/stdout (for editors).
import { loadLanguageServer } from '@steer/language-server/start';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';

export const lspCommand: Command = {
  name: 'lsp',
  summary: 'Run the language server for .steer files (completion, hover, diagnostics) on stdio, for editors',
  usage: 'steer lsp --stdio',
  options: { stdio: { type: 'boolean' } },
  async run(args, io) {
    if (args.values.stdio !== true) {
      throw new UsageError(
        'lsp speaks the Language Server Protocol on stdin/stdout only; run `steer lsp --stdio`',
      );
    }
    if (args.positionals.length > 0) {
      throw new UsageError(
        `lsp takes no arguments, found ${args.positionals.join(' ')}; run \`steer lsp --stdio\``,
      );
    }
    // NOTE: the bundled server when it is up to date (it starts ~5 times faster than the compiled modules).
    const { startLanguageServer, notBundled } = await loadLanguageServer();
    if (notBundled) {
      io.stderr.write(
        `steer lsp: ${notBundled}; starting from the compiled modules, which takes longer; run \`npm run build\` to rebuild it\n`,
      );
    }
    // NOTE: configuration is found per document (steer.config.json upwards from each file), not from io.cwd.
    return new Promise<number>((resolve) => {
      startLanguageServer({
        input: process.stdin,
        output: io.stdout,
        env: io.env,
        onExit: (code) => {
          process.stdin.destroy(); // nothing more will be read; let the process end
          // NOTE: native runtimes (onnxruntime, LanceDB) may keep the event loop alive; LSP says exit now.
          setTimeout(() => process.exit(code), 1000).unref();
          resolve(code);
        },
      });
    });
  },
};
