"""tinygrad1d.functional (import as F): every composite, as torch.nn.functional.

- `core.py`: conv1d, pools, softmax family, losses, linear, dropout, batch norm; mean,
  var, std, cat, stack, where, permute, flatten, ...; the argument checks.
- `everyday.py`: clamp, masked_fill, lerp, minimum, maximum, logsumexp, amax, norm,
  normalize, pad, flip, repeat, split, chunk, sign, floor, ceil, round, sort, topk; embedding,
  layer_norm, group_norm, conv_transpose1d, interpolate, adaptive pools.
- `indexing.py`: torch's gather and scatter family, index_select, narrow, unbind, tril,
  triu, movedim, unflatten, and the (values, indices) reductions.
- `activations.py`: gelu, silu, leaky_relu, elu, softplus, relu6, hardtanh, mish, selu, ...
- `losses.py`: l1, smooth_l1, huber, binary cross-entropy, kl_div, cosine_similarity, ...

Nothing here has a backward of its own: each function is an expression over the primitives.
"""
from .core import *  # noqa: F403 - the package's face is the union of its modules
from .core import __all__ as _core
from .core import check_int, conv_args, dropout_p, pool_args, windows  # noqa: F401
from .everyday import *  # noqa: F403
from .everyday import __all__ as _everyday
from .indexing import *  # noqa: F403
from .indexing import __all__ as _indexing
from .activations import *  # noqa: F403
from .activations import __all__ as _activations
from .losses import *  # noqa: F403
from .losses import __all__ as _losses

__all__ = _core + _everyday + _indexing + _activations + _losses
