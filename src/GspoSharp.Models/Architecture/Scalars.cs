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
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();
    public static readonly Scalar PositiveInfinity = double.PositiveInfinity.ToScalar();
    public static readonly Scalar NaN = double.NaN.ToScalar();
}
