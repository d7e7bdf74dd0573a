"""tinygrad1d.functional (import as F): every composite, as torch.nn.functional.

- `core.py`: conv1d, pools, softmax family, losses, linear, dropout, batch norm; mean,
  var, std, cat, stack, where, permute, flatten, ...; the argument checks.
- `everyday.py`: gelu, silu, leaky_relu, elu, softplus, clamp, masked_fill, lerp, minimum,
  maximum, logsumexp, amax, norm, normalize, pad, flip, repeat, split, chunk, sign, floor,
  ceil, round, sort, topk; embedding, layer_norm, group_norm, conv_transpose1d, interpolate.
- `indexing.py`: torch's gather and scatter family, index_select, narrow, unbind, tril,
  triu, movedim, unflatten, and the (values, indices) reductions.

Nothing here has a backward of its own: each function is an expression over the primitives.
"""
from .core import *  # noqa: F403 - the package's face is the union of its modules
from .core import __all__ as _core
from .core import check_int, conv_args, dropout_p, pool_args, windows  # noqa: F401
from .everyday import *  # noqa: F403
from .everyday import __all__ as _everyday
from .indexing import *  # noqa: F403
from .indexing import __all__ as _indexing

__all__ = _core + _everyday + _indexing
