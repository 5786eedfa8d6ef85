using System.Text.Json;
using GspoSharp.Models;
using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Checkpoints.HandMade;

namespace GspoSharp.Tests.Models.Checkpoints;

/// <summary>Hugging Face checkpoint directories: single file, shards with an index, and their failures.</summary>
public class HfSafetensorsCheckpointTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    string PathOf(string name) => Path.Combine(dir.Path, name);

    IEnumerable<string> FileNames() => Directory.EnumerateFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    /// <summary>Five 10-float tensors (40 bytes each in F32) with distinct values.</summary>
    static Dictionary<string, Tensor> FiveTensors() =>
        Enumerable.Range(0, 5).ToDictionary(i => $"model.layers.{i}.weight", i => arange(10f).reshape(2, 5) + 10 * i);

    static JsonElement ReadJson(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();

    [Fact]
    public void Saves_one_file_when_it_fits_and_reads_it_back()
    {
        using var scope = NewDisposeScope();
        var tensors = FiveTensors();
        HfSafetensorsCheckpoint.Save(dir.Path, tensors, ScalarType.BFloat16);

        Assert.Equal(["model.safetensors"], FileNames());
        var file = Parse(PathOf("model.safetensors"));
        Assert.Equal("pt", file.Header.GetProperty("__metadata__").GetProperty("format").GetString());
        Assert.Equal(BF16(40, 41, 42, 43, 44, 45, 46, 47, 48, 49), file.DataOf("model.layers.4.weight"));

        using var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal([PathOf("model.safetensors")], checkpoint.Files);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), checkpoint.Entries.Select(e => e.Name));
        foreach (var (name, t) in tensors)
            Assert.Equal(t.data<float>().ToArray(), checkpoint.ReadTensor(name).data<float>().ToArray());
        Assert.Equal(ScalarType.BFloat16, checkpoint.GetEntry("model.layers.0.weight").Dtype);
    }

    [Fact]
    public void Shards_by_size_in_order_and_writes_the_index()
    {
        using var scope = NewDisposeScope();
        var tensors = FiveTensors();
        tensors["lm_head.weight"] = arange(30f);   // 120 bytes: more than a shard, so alone in one
        tensors["model.norm.weight"] = ones(2);    // 8 bytes
        HfSafetensorsCheckpoint.Save(dir.Path, tensors, ScalarType.Float32, maxShardBytes: 100);

        // 40+40 | 40+40 | 40 | 120 | 8: a tensor that would pass 100 bytes starts the next shard.
        string[] shards = [.. Enumerable.Range(1, 5).Select(i => $"model-0000{i}-of-00005.safetensors")];
        Assert.Equal([.. shards, "model.safetensors.index.json"], FileNames());
        string[][] expected =
        [
            ["model.layers.0.weight", "model.layers.1.weight"], ["model.layers.2.weight", "model.layers.3.weight"],
            ["model.layers.4.weight"], ["lm_head.weight"], ["model.norm.weight"],
        ];
        for (int i = 0; i < 5; i++)
        {
            var shard = Parse(PathOf(shards[i]));
            Assert.Equal(expected[i], shard.TensorNames.Order(StringComparer.Ordinal));
            Assert.Equal("pt", shard.Header.GetProperty("__metadata__").GetProperty("format").GetString());
        }
        Assert.Equal(F32([.. Enumerable.Range(20, 10).Select(v => (float)v)]), Parse(PathOf(shards[1])).DataOf("model.layers.2.weight"));

        string indexText = File.ReadAllText(PathOf("model.safetensors.index.json"));
        Assert.EndsWith("}\n", indexText);
        var index = JsonDocument.Parse(indexText).RootElement;
        Assert.Equal(5 * 40 + 120 + 8, index.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.GetProperty("weight_map").EnumerateObject().Select(p => (p.Name, p.Value.GetString())).ToList();
        Assert.Equal(weightMap.Select(p => p.Name).Order(StringComparer.Ordinal), weightMap.Select(p => p.Name));   // keys sorted
        var expectedMap = expected.SelectMany((names, i) => names.Select(n => (n, (string?)shards[i]))).OrderBy(p => p.n, StringComparer.Ordinal);
        Assert.Equal(expectedMap, weightMap);

        using var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(shards.Select(PathOf), checkpoint.Files);
        Assert.Equal(7, checkpoint.Entries.Count);
        foreach (var (name, t) in tensors)
            Assert.Equal(t.data<float>().ToArray(), checkpoint.ReadTensor(name).data<float>().ToArray());
        Assert.Equal(PathOf(shards[3]), checkpoint.GetEntry("lm_head.weight").File);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Sharded_round_trip_is_bit_exact_in_half_precision(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var random = new Random(3);
        var raws = new Dictionary<string, byte[]>();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in new (string, long[])[] { ("a", [3, 4]), ("b", []), ("c", [0, 2]), ("d", [7]), ("e", [2, 2, 2]) })
        {
            var raw = new byte[shape.Aggregate(2L, (n, d) => n * d)];
            random.NextBytes(raw);
            raws[name] = raw;
            tensors[name] = FromRaw(raw, dtype, shape);
        }
        HfSafetensorsCheckpoint.Save(dir.Path, tensors, dtype, maxShardBytes: 16);

        using var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path);
        Assert.True(checkpoint.Files.Count > 2);
        foreach (var (name, raw) in raws)
        {
            var back = checkpoint.ReadTensor(name, dtype);
            Assert.Equal(tensors[name].shape, back.shape);
            Assert.Equal(raw, RawBytes(back));
        }
    }

    [Fact]
    public void Saving_again_replaces_the_previous_checkpoint_files()
    {
        using var scope = NewDisposeScope();
        File.WriteAllText(PathOf("config.json"), "{}");
        HfSafetensorsCheckpoint.Save(dir.Path, FiveTensors(), maxShardBytes: 100);
        Assert.Equal(5, FileNames().Count());

        // Sharded → single: shards and index go, other files stay.
        HfSafetensorsCheckpoint.Save(dir.Path, new Dictionary<string, Tensor> { ["x"] = ones(1) });
        Assert.Equal(["config.json", "model.safetensors"], FileNames());

        // Single → sharded: the single file, which loading would prefer, goes.
        HfSafetensorsCheckpoint.Save(dir.Path, new Dictionary<string, Tensor> { ["x"] = ones(20), ["y"] = zeros(20) }, maxShardBytes: 80);
        Assert.Equal(["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"], FileNames());
        using var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(0f, checkpoint.ReadTensor("y").sum().item<float>());
    }

    [Fact]
    public void A_failed_sharded_save_leaves_the_directory_as_it_was()
    {
        using var scope = NewDisposeScope();
        HfSafetensorsCheckpoint.Save(dir.Path, new Dictionary<string, Tensor> { ["old"] = ones(3) });
        var before = File.ReadAllBytes(PathOf("model.safetensors"));

        // The third shard holds a meta tensor: two shards are already written when it fails.
        var tensors = FiveTensors();
        tensors["model.layers.2.weight"] = empty([2, 5], ScalarType.Float32, META);
        var ex = Assert.ThrowsAny<Exception>(() => HfSafetensorsCheckpoint.Save(dir.Path, tensors, maxShardBytes: 40));
        Assert.Contains("meta tensor", ex.Message);
        Assert.Equal(["model.safetensors"], FileNames());
        Assert.Equal(before, File.ReadAllBytes(PathOf("model.safetensors")));

        // Invalid arguments are refused before anything is written, even the directory.
        string fresh = PathOf("fresh");
        Assert.Throws<ArgumentOutOfRangeException>(() => HfSafetensorsCheckpoint.Save(fresh, FiveTensors(), maxShardBytes: 0));
        Assert.Throws<ArgumentException>(() => HfSafetensorsCheckpoint.Save(fresh, FiveTensors(), ScalarType.Int64));
        Assert.False(Directory.Exists(fresh));
    }

    /// <summary>Saves five tensors in three shards (two per 80 bytes), then lets the test break one thing.</summary>
    string SaveSharded()
    {
        using var scope = NewDisposeScope();
        HfSafetensorsCheckpoint.Save(dir.Path, FiveTensors(), maxShardBytes: 80);
        return PathOf("model.safetensors.index.json");
    }

    string OpenError()
    {
        var ex = Assert.Throws<ModelFormatException>(() => HfSafetensorsCheckpoint.Open(dir.Path).Dispose());
        return ex.Message;
    }

    /// <summary>Rewrites the index's weight_map with <paramref name="edit"/>.</summary>
    static void EditIndex(string index, Action<Dictionary<string, string>> edit)
    {
        var map = ReadJson(index).GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        edit(map);
        File.WriteAllText(index, JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
    }

    [Fact]
    public void Index_naming_a_missing_shard()
    {
        string index = SaveSharded();
        File.Delete(PathOf("model-00002-of-00003.safetensors"));
        Assert.Contains($"{index}: shard 'model-00002-of-00003.safetensors' (holding tensor 'model.layers.2.weight' and 1 more) does not exist in {dir.Path}", OpenError());
    }

    [Fact]
    public void Index_listing_a_tensor_its_shard_does_not_hold()
    {
        string index = SaveSharded();
        EditIndex(index, map => map["model.embed_tokens.weight"] = "model-00001-of-00003.safetensors");
        Assert.Contains($"{index}: tensor 'model.embed_tokens.weight' is listed in shard 'model-00001-of-00003.safetensors', but {PathOf("model-00001-of-00003.safetensors")} has no such tensor",
            OpenError());
    }

    [Fact]
    public void Shard_holding_a_tensor_the_index_does_not_list()
    {
        string index = SaveSharded();
        EditIndex(index, map => map.Remove("model.layers.3.weight"));
        Assert.Contains($"{PathOf("model-00002-of-00003.safetensors")}: tensor 'model.layers.3.weight' is not listed in {index}", OpenError());
    }

    [Fact]
    public void Tensor_in_a_shard_other_than_the_one_the_index_names()
    {
        string index = SaveSharded();
        // A copy of shard 2 (layers 2 and 3) listed for layer 3 only: layer 2 is then in two shards.
        File.Copy(PathOf("model-00002-of-00003.safetensors"), PathOf("extra.safetensors"));
        EditIndex(index, map => map["model.layers.3.weight"] = "extra.safetensors");
        Assert.Contains($"{PathOf("extra.safetensors")}: tensor 'model.layers.2.weight' is also in this shard, but {index} lists it in 'model-00002-of-00003.safetensors'",
            OpenError());
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "the index must be a JSON object")]
    [InlineData("""{"metadata":{}}""", "the index has no 'weight_map' field")]
    [InlineData("""{"weight_map":[]}""", "field 'weight_map' must be an object")]
    [InlineData("""{"weight_map":{"w":1}}""", "weight_map entry for tensor 'w' must be a file name string")]
    [InlineData("""{"weight_map":{"w":"../model.safetensors"}}""", "maps tensor 'w' to '../model.safetensors', which is not a plain file name")]
    [InlineData("""{"weight_map":{"w":"/etc/passwd"}}""", "maps tensor 'w' to '/etc/passwd', which is not a plain file name")]
    [InlineData("""{"weight_map":{"w":"a.safetensors","w":"b.safetensors"}}""", "tensor 'w' appears twice in weight_map")]
    public void Malformed_index(string json, string expected)
    {
        string index = PathOf("model.safetensors.index.json");
        File.WriteAllText(index, json);
        var message = OpenError();
        Assert.Contains(index, message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public void A_bad_shard_header_names_the_shard()
    {
        string index = SaveSharded();
        File.WriteAllBytes(PathOf("model-00003-of-00003.safetensors"), [1, 2, 3]);
        Assert.Contains($"{PathOf("model-00003-of-00003.safetensors")}: the file is 3 bytes long", OpenError());
    }

    [Fact]
    public void Directory_without_a_checkpoint_names_the_expected_files()
    {
        File.WriteAllText(PathOf("config.json"), "{}");
        File.WriteAllBytes(PathOf("adapter_model.safetensors"), []);
        var message = OpenError();
        Assert.Contains($"{dir.Path}: no checkpoint found; expected model.safetensors, or model.safetensors.index.json with its model-0000N-of-0000M.safetensors shards", message);
        Assert.Contains("found only adapter_model.safetensors", message);

        string missing = PathOf("nope");
        Assert.Contains($"{missing}: the checkpoint directory does not exist",
            Assert.Throws<ModelFormatException>(() => HfSafetensorsCheckpoint.Open(missing)).Message);
    }

    [Fact]
    public void Pickle_checkpoints_are_refused_without_being_opened()
    {
        File.WriteAllBytes(PathOf("pytorch_model.bin"), [0x80, 0x02]);   // a pickle protocol header
        var message = OpenError();
        Assert.Contains($"{dir.Path}: found pytorch_model.bin, but only safetensors checkpoints are supported", message);
        Assert.Contains("model.safetensors", message);
    }

    [Fact]
    public void A_missing_tensor_names_the_checkpoint()
    {
        using var scope = NewDisposeScope();
        SaveSharded();
        using var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path);
        Assert.False(checkpoint.Contains("lm_head.weight"));
        var ex = Assert.Throws<ModelFormatException>(() => checkpoint.ReadTensor("lm_head.weight"));
        Assert.Contains($"{dir.Path}: the checkpoint has no tensor named 'lm_head.weight' (5 tensors in 3 file(s))", ex.Message);
    }

    [Fact]
    public void The_single_file_wins_over_an_index_as_in_transformers()
    {
        using var scope = NewDisposeScope();
        SaveSharded();
        SafetensorsWriter.Write(PathOf("model.safetensors"), new Dictionary<string, Tensor> { ["only"] = ones(1) });
        using var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(["only"], checkpoint.Entries.Select(e => e.Name));
    }

    [Fact]
    public void Reading_and_saving_leave_no_live_tensors_behind()
    {
        using var outer = NewDisposeScope();
        var tensors = FiveTensors();
        var stats = DisposeScopeManager.Statistics;
        long live = stats.ThreadTotalLiveCount;

        HfSafetensorsCheckpoint.Save(dir.Path, tensors, ScalarType.BFloat16, maxShardBytes: 50);
        using (var checkpoint = HfSafetensorsCheckpoint.Open(dir.Path))
        {
            foreach (var name in tensors.Keys)
                checkpoint.ReadTensor(name).Dispose();   // the caller owns the result; nothing else survives
        }
        Assert.Equal(live, stats.ThreadTotalLiveCount);
    }
}
