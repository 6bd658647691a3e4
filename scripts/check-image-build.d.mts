/** The instructions of the Dockerfile's first stage (see check-image-build.mjs). */
export function buildStage(text: string): { op: string; args: string }[];
