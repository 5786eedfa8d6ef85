using static TorchSharp.torch;

namespace GspoSharp.Rollout;

/// <summary>The precision the in-process backend samples in (<c>rollout_dtype</c>); training stays float32.</summary>
public enum RolloutDtype
{
    /// <summary>"float32": the policy's own weights.</summary>
    Float32,
    /// <summary>"bfloat16": a bf16 copy of the policy, refreshed after every update.</summary>
    Bfloat16,
}

/// <summary>Conversions of <see cref="RolloutDtype"/>.</summary>
public static class RolloutDtypes
{
    /// <summary>The tensor dtype.</summary>
    public static ScalarType ScalarType(this RolloutDtype dtype) => dtype == RolloutDtype.Bfloat16 ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;
}
