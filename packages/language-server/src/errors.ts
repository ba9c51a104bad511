// The error of @steer/language-server: a user-facing failure of a custom request.
import { SteerError } from '@steer/core';

/** A user-facing failure of a custom request (the server answers it as a ResponseError). */
export class SteerRequestError extends SteerError {
  override name = 'SteerRequestError';
  constructor(message: string) {
    super('language-server', 'request_failed', message);
  }
}
