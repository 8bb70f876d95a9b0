// Defaults of batch norm's arguments, PyTorch's (torch.nn.BatchNorm2d): the functions, the module, the
// demo and the benchmark all read them from here.

/** Added to the variance before the square root. */
export const DEFAULT_EPS = 1e-5;
/** Weight of the batch statistics when they are blended into the running ones. */
export const DEFAULT_MOMENTUM = 0.1;
