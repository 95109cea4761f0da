"""A small UNet on embedding patches: segmentation from sparse labels (unlabelled pixels are
ignored by the loss), with neighbourhood context a per-pixel head cannot see. Needs torch."""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.errors import LabelError
from tessera.heads.labels import NO_LABEL


def _net(in_ch: int, n_out: int, base: int):
    import torch
    from torch import nn

    def block(i, o):
        return nn.Sequential(
            nn.Conv2d(i, o, 3, padding=1),
            nn.GroupNorm(8, o),
            nn.ReLU(inplace=True),
            nn.Conv2d(o, o, 3, padding=1),
            nn.GroupNorm(8, o),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc1, self.enc2, self.mid = block(in_ch, base), block(base, 2 * base), block(2 * base, 4 * base)
            self.up2, self.dec2 = nn.ConvTranspose2d(4 * base, 2 * base, 2, 2), block(4 * base, 2 * base)
            self.up1, self.dec1 = nn.ConvTranspose2d(2 * base, base, 2, 2), block(2 * base, base)
            self.out = nn.Conv2d(base, n_out, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
            m = self.mid(nn.functional.max_pool2d(e2, 2))
            d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
            return self.out(self.dec1(torch.cat([self.up1(d2), e1], 1)))

    return UNet()


class UNetHead:
    """Fit on a labelled region, predict any region of the same embedding size.

    Inputs are standardised with the labelled pixels' statistics; no-data pixels enter as zeros
    and come out as class 0 (no data).
    """

    def __init__(
        self, base: int = 32, steps: int = 300, patch: int = 64, batch: int = 8, lr: float = 5e-3, seed: int = 0
    ) -> None:
        self.base, self.steps, self.patch, self.batch, self.lr, self.seed = base, steps, patch, batch, lr, seed
        self.net: Any = None  # the torch module, built by fit or load

    def _input(self, emb: np.ndarray):
        import torch

        x = (emb - self.mean) / self.std
        x = np.nan_to_num(x, nan=0.0).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))

    def fit(self, emb: np.ndarray, labels: np.ndarray) -> UNetHead:
        import torch

        h, w, d = emb.shape
        size = min(self.patch, h, w) // 4 * 4
        if size < 8:
            raise LabelError(f"a {h} × {w} px region is too small for the UNet; it needs at least 8 × 8 px")
        valid = ~np.isnan(emb).any(axis=2)
        known = (labels != NO_LABEL) & valid
        self.classes = np.unique(labels[known])
        if len(self.classes) < 2:
            raise LabelError("the labels hold fewer than two classes where there are embeddings")
        self.mean = np.nanmean(emb[known], axis=0).astype(np.float32)
        self.std = np.maximum(np.nanstd(emb[known], axis=0), 1e-6).astype(np.float32)
        target = np.full((h, w), -1, np.int64)
        target[known] = np.searchsorted(self.classes, labels[known])
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.net = _net(d, len(self.classes), self.base)
        x, t = self._input(emb), torch.from_numpy(target)
        # Patches are drawn around labelled pixels so sparse labels still reach the loss.
        lr_, lc_ = np.nonzero(known)
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
        self.net.train()
        for _ in range(self.steps):
            pick = rng.integers(0, len(lr_), self.batch)
            r0 = np.clip(lr_[pick] - rng.integers(0, size, self.batch), 0, h - size)
            c0 = np.clip(lc_[pick] - rng.integers(0, size, self.batch), 0, w - size)
            xb = torch.stack([x[:, r : r + size, c : c + size] for r, c in zip(r0, c0, strict=True)])
            tb = torch.stack([t[r : r + size, c : c + size] for r, c in zip(r0, c0, strict=True)])
            flip = int(rng.integers(0, 4))  # dihedral augmentation: labels carry no orientation
            xb, tb = torch.rot90(xb, flip, (2, 3)), torch.rot90(tb, flip, (1, 2))
            loss = torch.nn.functional.cross_entropy(self.net(xb), tb, ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self

    def predict(self, emb: np.ndarray) -> np.ndarray:
        """(H, W) class ids; NO_LABEL (-1) where the embedding is missing."""
        return self.predict_with_confidence(emb)[0]

    def predict_with_confidence(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) class ids and (H, W) float32 softmax probability of each pixel's class; NO_LABEL
        and NaN where the embedding is missing."""
        import torch

        if self.net is None:
            raise LabelError("the UNet is not fitted")
        h, w, d = emb.shape
        if d != len(self.mean):
            raise LabelError(f"embeddings have {d} dimensions; this UNet was fitted on {len(self.mean)}")
        ph, pw = -h % 4, -w % 4
        x = torch.nn.functional.pad(self._input(emb)[None], (0, pw, 0, ph))
        self.net.eval()
        with torch.inference_mode():
            top, idx = self.net(x)[0].softmax(0).max(0)
        out = self.classes[idx[:h, :w].numpy()].astype(np.int32)
        conf = top[:h, :w].numpy().astype(np.float32)
        missing = np.isnan(emb).any(axis=2)
        out[missing], conf[missing] = NO_LABEL, np.nan
        return out, conf

    def state_dict_for_file(self) -> tuple[dict, dict]:
        import torch

        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        tensors |= {
            "mean": torch.from_numpy(self.mean),
            "std": torch.from_numpy(self.std),
            "classes": torch.from_numpy(self.classes.astype(np.int64)),
        }
        return tensors, {"unet_base": self.base, "embed_dim": len(self.mean)}

    @classmethod
    def from_file(cls, tensors: dict, meta: dict) -> UNetHead:
        head = cls(base=int(meta["unet_base"]))
        head.mean, head.std = tensors["mean"].numpy(), tensors["std"].numpy()
        head.classes = tensors["classes"].numpy()
        head.net = _net(len(head.mean), len(head.classes), head.base)
        head.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        return head
