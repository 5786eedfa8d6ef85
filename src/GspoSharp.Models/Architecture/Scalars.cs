using TorchSharp;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Scalar operands that live as long as the process. TorchSharp passes a <see cref="Scalar"/>'s raw
/// handle to LibTorch without keeping the Scalar reachable, and Scalars have finalizers: a
/// temporary one (as C# creates for <c>tensor * 0.5</c>) can be finalized by a collection that
/// another thread triggers while the native call still reads it (seen as "INTERNAL ASSERT FAILED
/// at c10/core/Scalar.h"; docs/decisions/0002-torchsharp-scalar-lifetime.md). Hot paths therefore
/// use these constants, or hold a per-call Scalar in a <c>using</c> until the call has returned.
/// </summary>
internal static class Scalars
{
    public static readonly Scalar Zero = 0.0.ToScalar();
    public static readonly Scalar One = 1.0.ToScalar();
    public static readonly Scalar ZeroInt = 0L.ToScalar();
    public static readonly Scalar OneInt = 1L.ToScalar();
    public static readonly Scalar TwoInt = 2L.ToScalar();
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();
    public static readonly Scalar PositiveInfinity = double.PositiveInfinity.ToScalar();
    public static readonly Scalar NaN = double.NaN.ToScalar();

    /// <summary>0, 1, …, <paramref name="stop"/> − 1 as int64, with every operand held through the native call:
    /// <c>arange(n)</c> would convert n to a temporary Scalar, and TorchSharp's overloads without a step
    /// pass a start of 0 and a step of 1 as temporaries of their own.</summary>
    public static torch.Tensor Arange(long stop, torch.Device? device = null) => Arange(0, stop, device);

    /// <summary><paramref name="start"/>, …, <paramref name="stop"/> − 1 as int64, bounds held likewise.</summary>
    public static torch.Tensor Arange(long start, long stop, torch.Device? device = null)
    {
        using var first = start.ToScalar();
        using var end = stop.ToScalar();
        return torch.arange(first, end, OneInt, device: device);
    }
}
