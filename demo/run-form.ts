// The Start/Stop form of the training panels: Start runs, and the same button, now Stop, asks the run to
// end (it stops where it checks `stopRequested`); the inputs are locked while a run is on. A failed run
// is shown in the status line (and the console) after `afterFailure` has cleaned up, and the form is
// reset for the next Start.

/** A panel's status line: its state as data-state (which the e2e tests wait on) and its text. */
export function setStatus(status: HTMLElement, state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

export interface RunForm {
  readonly form: HTMLFormElement;
  readonly button: HTMLButtonElement;
  /** Locked while a run is on. */
  readonly inputs: readonly HTMLInputElement[];
  readonly status: HTMLElement;
  /** One run; `stopRequested()` turns true once Stop is pressed. */
  readonly run: (stopRequested: () => boolean) => Promise<void>;
  /** After a run failed: drop what it may have left half-updated, so that the next Start begins afresh. */
  readonly afterFailure: () => void;
}

/** Wires the form's submit to start and stop runs, and enables its button. */
export function setUpRunForm({ form, button, inputs, status, run, afterFailure }: RunForm): void {
  let running = false;
  let stopRequested = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (running) {
      stopRequested = true;
      button.disabled = true;
      button.textContent = 'Stopping…';
      return;
    }
    running = true;
    stopRequested = false;
    for (const input of inputs) input.disabled = true;
    button.textContent = 'Stop';
    run(() => stopRequested)
      .catch((error: unknown) => {
        afterFailure();
        setStatus(status, 'error', `failed: ${error instanceof Error ? error.message : String(error)}`);
        console.error(error);
      })
      .finally(() => {
        running = false;
        for (const input of inputs) input.disabled = false;
        button.disabled = false;
        button.textContent = 'Start';
      });
  });
  button.disabled = false;
}
