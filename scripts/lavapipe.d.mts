export const LAVAPIPE_INSTALLER: string;
export const LAVAPIPE_ICD: string;
export const LAVAPIPE_MISSING: string;
