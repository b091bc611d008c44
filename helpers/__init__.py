"""The course's helpers. Importing the package pins PyTorch's CPU kernels to one instruction level
(`numerics`), before torch is imported, so the tiny world is the same on every x86-64 CPU."""

from helpers import numerics

numerics.pin()
