"""Learning-rate schedules with torch.optim.lr_scheduler's names and formulas.

Each sets every parameter group's lr from the number of step() calls so far (call it after
optimizer.step(), per batch or per epoch: your choice), starting from the group's lr when
the first schedule was made (group["initial_lr"], as torch), and applies step 0 at
construction. All but ReduceLROnPlateau are closed forms of the step count, so a resumed
run needs only `count`; ReduceLROnPlateau follows a metric instead (step(metric)).
"""
from __future__ import annotations

import bisect
import math

__all__ = ["ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "ExponentialLR",
           "LambdaLR", "LinearLR", "MultiStepLR", "OneCycleLR", "PolynomialLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR"]


class _Schedule:
    def __init__(self, optimizer):
        self.optimizer, self.count = optimizer, 0
        self.base_lrs = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.base_lr = self.base_lrs[0]
        self._apply()

    def step(self) -> None:
        self.count += 1
        self._apply()

    def _apply(self) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self._lr(base, self.count)

    def lr_at(self, n: int) -> float:
        """The first group's lr after n steps."""
        return self._lr(self.base_lrs[0], n)

    def get_last_lr(self) -> list[float]:
        """The lr of every group, as last set."""
        return [g["lr"] for g in self.optimizer.param_groups]

    last_epoch = property(lambda self: self.count)

    def _lr(self, base: float, n: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


def _positive_int(v, op: str, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{op}: {name} must be an int >= 1, got {v!r}")
    return v


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (n // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = _positive_int(step_size, "StepLR", "step_size")
        self.gamma = gamma
        super().__init__(optimizer)

    def _lr(self, base, n):
        return base * self.gamma ** (n // self.step_size)


class MultiStepLR(_Schedule):
    """lr = base_lr * gamma ** (the number of milestones reached by n)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1):
        self.milestones = sorted(_positive_int(m, "MultiStepLR", "milestones") for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer)

    def _lr(self, base, n):
        return base * self.gamma ** bisect.bisect_right(self.milestones, n)


class LambdaLR(_Schedule):
    """lr = base_lr * lr_lambda(n); one function for every group, or a list of one per group."""

    def __init__(self, optimizer, lr_lambda):
        groups = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(fns) != groups or not all(callable(f) for f in fns):
            raise ValueError(f"LambdaLR: lr_lambda must be a function or a list of {groups} "
                             f"functions (one per param group), got {lr_lambda!r}")
        self.lr_lambdas = fns
        super().__init__(optimizer)

    def _apply(self) -> None:
        for g, base, fn in zip(self.optimizer.param_groups, self.base_lrs, self.lr_lambdas):
            g["lr"] = base * fn(self.count)

    def _lr(self, base, n):
        return base * self.lr_lambdas[0](n)


class ConstantLR(_Schedule):
    """lr = base_lr * factor for the first total_iters steps, then base_lr."""

    def __init__(self, optimizer, factor: float = 1 / 3, total_iters: int = 5):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total = factor, _positive_int(total_iters, "ConstantLR", "total_iters")
        super().__init__(optimizer)

    def _lr(self, base, n):
        return base * (self.factor if n < self.total else 1.0)


class PolynomialLR(_Schedule):
    """lr = base_lr * (1 - min(n, total_iters) / total_iters) ** power."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0):
        self.total, self.power = _positive_int(total_iters, "PolynomialLR", "total_iters"), power
        super().__init__(optimizer)

    def _lr(self, base, n):
        return base * (1 - min(n, self.total) / self.total) ** self.power


class ExponentialLR(_Schedule):
    """lr = base_lr * gamma ** n."""

    def __init__(self, optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def _lr(self, base, n):
        return base * self.gamma ** n


class CosineAnnealingLR(_Schedule):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * n / T_max)) / 2; past T_max it
    keeps following the cosine (back up to base_lr at 2 T_max), as torch's formula does."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803
        self.T_max = _positive_int(T_max, "CosineAnnealingLR", "T_max")
        self.eta_min = eta_min
        super().__init__(optimizer)

    def _lr(self, base, n):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * n / self.T_max)) / 2


class CosineAnnealingWarmRestarts(_Schedule):
    """The cosine of CosineAnnealingLR over a period of T_0 steps, restarting at base_lr at
    the end of each period; each period T_mult times longer than the one before (SGDR)."""

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0):  # noqa: N803
        self.T_0 = _positive_int(T_0, "CosineAnnealingWarmRestarts", "T_0")
        self.T_mult = _positive_int(T_mult, "CosineAnnealingWarmRestarts", "T_mult")
        self.eta_min = eta_min
        super().__init__(optimizer)

    def _lr(self, base, n):
        period = self.T_0
        if self.T_mult == 1:
            n %= period
        while n >= period:  # at most log(n / T_0) rounds when the periods grow
            n, period = n - period, period * self.T_mult
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * n / period)) / 2


class LinearLR(_Schedule):
    """lr = base_lr * factor, the factor going linearly from start_factor to end_factor over
    total_iters steps, then staying there."""

    def __init__(self, optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0,
                 total_iters: int = 5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: factors must be in (0, 1] and [0, 1], got "
                             f"{start_factor}, {end_factor}")
        self.start, self.end = start_factor, end_factor
        self.total = _positive_int(total_iters, "LinearLR", "total_iters")
        super().__init__(optimizer)

    def _lr(self, base, n):
        return base * (self.start + (self.end - self.start) * min(n, self.total) / self.total)


class OneCycleLR(_Schedule):
    """The one-cycle policy: from max_lr / div_factor up to max_lr over pct_start of
    total_steps, then down (cosine or linear) to that / final_div_factor; with
    cycle_momentum, the momentum (SGD) or Adam's first beta moves the opposite way between
    max_momentum and base_momentum, as torch does."""

    def __init__(self, optimizer, max_lr: float, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        self.total = _positive_int(total_steps, "OneCycleLR", "total_steps")
        if anneal_strategy not in ("cos", "linear") or not 0 < pct_start < 1:
            raise ValueError(f"OneCycleLR: anneal_strategy 'cos' or 'linear' and 0 < pct_start "
                             f"< 1, got {anneal_strategy!r}, {pct_start}")
        self.cos = anneal_strategy == "cos"
        self.up = float(pct_start * self.total) - 1  # the step where lr peaks
        self.momentum = None
        if cycle_momentum:
            key = "betas" if "betas" in optimizer.param_groups[0] else "momentum"
            if key == "momentum" and not optimizer.param_groups[0].get("momentum"):
                raise ValueError("OneCycleLR: cycle_momentum needs an optimizer with momentum")
            self.momentum = (key, base_momentum, max_momentum)
        for g in optimizer.param_groups:  # torch replaces the initial lr, not scales it
            g["initial_lr"] = max_lr / div_factor
        self.max_lr, self.final_div = max_lr, final_div_factor
        super().__init__(optimizer)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.cos:
            return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))
        return start + (end - start) * pct

    def _phase(self, n: int) -> tuple[int, float]:
        if n <= self.up:
            return 0, n / self.up if self.up > 0 else 1.0
        if n > self.total:
            raise ValueError(f"OneCycleLR: stepped {n} times, past total_steps={self.total}")
        # n == total_steps runs the last phase one step past its end, as torch's does
        return 1, (n - self.up) / (self.total - 1 - self.up)

    def _lr(self, base, n):
        phase, pct = self._phase(n)
        low = base / self.final_div
        if phase == 0:
            return self._anneal(base, self.max_lr, pct)
        return self._anneal(self.max_lr, low, pct)

    def _apply(self) -> None:
        super()._apply()
        if self.momentum is not None:
            key, lo, hi = self.momentum
            phase, pct = self._phase(self.count)
            m = self._anneal(hi, lo, pct) if phase == 0 else self._anneal(lo, hi, pct)
            for g in self.optimizer.param_groups:
                g[key] = (m,) + tuple(g[key][1:]) if key == "betas" else m


class SequentialLR(_Schedule):
    """schedulers[i] from milestones[i-1] on, each counting its steps from its own 0."""

    def __init__(self, optimizer, schedulers: list, milestones: list[int]):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        self.schedulers, self.milestones = list(schedulers), list(milestones)
        super().__init__(optimizer)

    def _lr(self, base, n):
        i = bisect.bisect_right(self.milestones, n)
        return self.schedulers[i]._lr(base, n - (self.milestones[i - 1] if i else 0))


class ReduceLROnPlateau:
    """Multiply each group's lr by factor (not below min_lr) once a metric has not improved
    for more than `patience` calls of step(metric), then wait `cooldown` calls before counting
    again; torch's arguments and rules. The one schedule that is not a closed form of the step
    count: it follows the metric, so it keeps its own counters."""

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0.0, eps: float = 1e-8):
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: mode 'min' or 'max' and threshold_mode 'rel' "
                             f"or 'abs', got {mode!r}, {threshold_mode!r}")
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        groups = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * groups
        if len(self.min_lrs) != groups:
            raise ValueError(f"ReduceLROnPlateau: {len(self.min_lrs)} min_lr for {groups} "
                             "param groups")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = (
            threshold, threshold_mode, cooldown, eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0

    def _better(self, a: float) -> bool:  # torch's four rules, exactly (signs included)
        rel, t = self.threshold_mode == "rel", self.threshold
        if self.mode == "min":
            return a < (self.best * (1 - t) if rel else self.best - t)
        return a > (self.best * (1 + t) if rel else self.best + t)

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self._better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, low in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(g["lr"] * self.factor, low)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]
