using GspoSharp.Models;
using GspoSharp.Training;
using Mono.Cecil;
using Mono.Cecil.Cil;
using TorchSharp;

namespace GspoSharp.Tests.Build;

/// <summary>
/// Decision 0005 on the compiled product: no GspoSharp method calls a TorchSharp method that makes a
/// <see cref="Scalar"/> inside itself (<c>square()</c> is <c>pow(2)</c>, <c>arange(n)</c> passes 0 and 1,
/// <c>normal(mean, std)</c> converts both), directly or through other TorchSharp methods. Such a Scalar is
/// reachable from nothing while LibTorch reads it, so a collection on another thread can free it
/// mid-call ("Unknown scalar type", "INTERNAL ASSERT FAILED at c10/core/Scalar.h"). src/BannedSymbols.txt
/// names the ones found so far at compile time; this reads TorchSharp's IL, so it also finds the next one.
/// </summary>
public class TemporaryScalarTests
{
    static bool MakesScalar(MethodReference callee) =>
        callee.ReturnType.FullName == "TorchSharp.Scalar" && callee.Name is "op_Implicit" or "ToScalar"
        || callee.Name == ".ctor" && callee.DeclaringType.FullName == "TorchSharp.Scalar";

    static IEnumerable<(MethodDefinition Caller, MethodReference Callee)> Calls(ModuleDefinition module) =>
        from type in module.GetTypes()
        from method in type.Methods
        where method.HasBody
        from instruction in method.Body.Instructions
        where instruction.OpCode == OpCodes.Call || instruction.OpCode == OpCodes.Callvirt || instruction.OpCode == OpCodes.Newobj
        where instruction.Operand is MethodReference
        select (method, (MethodReference)instruction.Operand);

    /// <summary>TorchSharp's methods that make a Scalar of their own, or call one that does (the Scalar
    /// conversions themselves excluded: GspoSharp calls ToScalar and holds the result).</summary>
    static HashSet<string> TemporaryMakers(ModuleDefinition torchSharp)
    {
        var calls = Calls(torchSharp)
            .Where(c => c.Caller.DeclaringType.FullName is not ("TorchSharp.Scalar" or "TorchSharp.ScalarExtensionMethods"))
            .ToList();
        var makers = calls.Where(c => MakesScalar(c.Callee)).Select(c => c.Caller.FullName).ToHashSet();
        for (bool grew = true; grew;)
        {
            int before = makers.Count;
            makers.UnionWith(calls.Where(c => makers.Contains(c.Callee.FullName)).Select(c => c.Caller.FullName).ToList());
            grew = makers.Count > before;
        }
        return makers;
    }

    [Fact]
    public void No_product_method_calls_a_TorchSharp_method_that_passes_a_temporary_Scalar()
    {
        using var torchSharp = ModuleDefinition.ReadModule(typeof(torch).Assembly.Location);
        var makers = TemporaryMakers(torchSharp);
        // The finder finds what it must: the calls decision 0005 and its follow-ups replaced.
        Assert.Contains("TorchSharp.torch/Tensor TorchSharp.torch/Tensor::square()", makers);
        Assert.Contains(makers, m => m.Contains("TorchSharp.torch::arange(TorchSharp.Scalar,System.Nullable", StringComparison.Ordinal));
        Assert.Contains(makers, m => m.Contains("TorchSharp.torch::normal(System.Double,System.Double", StringComparison.Ordinal));
        Assert.Contains("TorchSharp.torch/Tensor TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor)", makers);

        var product = new[]
        {
            typeof(LanguageModel).Assembly.Location, typeof(GspoTrainer).Assembly.Location, typeof(TrainingRun).Assembly.Location,
            typeof(GspoSharp.Serving.ServingHost).Assembly.Location, Path.Combine(AppContext.BaseDirectory, "gspo.dll"),
        };
        var found = new List<string>();
        foreach (var path in product)
        {
            using var module = ModuleDefinition.ReadModule(path);
            found.AddRange(Calls(module)
                .Where(c => c.Callee.DeclaringType.Scope.Name.StartsWith("TorchSharp", StringComparison.Ordinal) && makers.Contains(c.Callee.FullName))
                .Select(c => $"{module.Name}: {c.Caller.DeclaringType.FullName}::{c.Caller.Name} calls {c.Callee.FullName}"));
        }
        Assert.True(found.Count == 0,
            "These calls pass LibTorch a Scalar that nothing keeps alive (docs/decisions/0005); hold the operand " +
            "(Scalars or a using declaration), call the overload that takes it, and add the API to src/BannedSymbols.txt:\n"
            + string.Join("\n", found.Distinct()));
    }
}
