// Project problems to the client: `steer/projectProblem` to a client that declared it understands them
// (`initializationOptions.projectProblems`), else `window/showMessage` and the log; held until `initialized`.
import { MessageType, type Connection, type InitializeParams } from 'vscode-languageserver/node';
import { ProjectProblemNotification, type ProjectProblemParams } from './protocol.js';

/** Sends project problems to the client the way it understands them. */
export interface ProblemChannel {
  send(problem: ProjectProblemParams): void;
  /** Learns from `initialize` whether the client takes `steer/projectProblem`. */
  initialize(params: InitializeParams): void;
  /** After `initialized`: sends the problems held until then, and later ones at once. */
  initialized(): void;
}

/** Creates the channel on a connection; problems sent before `initialized` wait for it. */
export function createProblemChannel(connection: Connection): ProblemChannel {
  let customProblems = false;
  let ready = false;
  const queue: ProjectProblemParams[] = [];
  const send = (problem: ProjectProblemParams): void => {
    if (!ready) {
      queue.push(problem);
      return;
    }
    if (customProblems) {
      void connection.sendNotification(ProjectProblemNotification.method, problem);
      return;
    }
    const message = `${problem.message}; ${problem.fix}`;
    connection.console.log(message);
    void connection.sendNotification('window/showMessage', {
      type: problem.severity === 'error' ? MessageType.Error : MessageType.Warning,
      message,
    });
  };
  return {
    send,
    initialize(params) {
      customProblems =
        (params.initializationOptions as { projectProblems?: unknown } | undefined)?.projectProblems === true;
    },
    initialized() {
      ready = true;
      queue.splice(0).forEach(send);
    },
  };
}
