using GspoSharp.Models;
using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Checkpoints.HandMade;

namespace GspoSharp.Tests.Models.Checkpoints;

/// <summary>Every malformed file is refused with a message naming the file and the tensor or field.</summary>
public class SafetensorsValidationTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Opens the bytes as a file and returns the error message; asserts it names the file.</summary>
    string OpenError(byte[] bytes)
    {
        string path = Path.Combine(dir.Path, "bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<ModelFormatException>(() => SafetensorsReader.Open(path).Dispose());
        Assert.Contains(path, ex.Message);
        return ex.Message;
    }

    string HeaderError(string header, params byte[][] data) => OpenError(HandMade.FileBytes(header, data));

    [Fact]
    public void File_shorter_than_the_length_prefix()
    {
        Assert.Contains("5 bytes long, shorter than the 8-byte header length", OpenError([1, 0, 0, 0, 0]));
        Assert.Contains("0 bytes long", OpenError([]));
    }

    [Fact]
    public void Header_length_running_past_the_file()
    {
        var bytes = HandMade.FileBytes("{}");
        bytes[0] = 200;   // claims 200 header bytes; the file has 2
        Assert.Contains("header length 200 runs past the end of the file (10 bytes)", OpenError(bytes));
        Assert.Contains("runs past the end", OpenError([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, (byte)'{', (byte)'}']));
    }

    [Fact]
    public void Sizes_of_two_to_the_sixtieth_are_refused_before_anything_is_allocated()
    {
        var header = HandMade.FileBytes("{}");
        BitConverter.GetBytes(1UL << 60).CopyTo(header, 0);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains($"header length {1UL << 60} runs past the end of the file", OpenError(header));
        Assert.Contains($"data_offsets [0, {1L << 60}] run past the end of the data section (8 bytes)",
            HeaderError($$$"""{"w":{"dtype":"U8","shape":[{{{1L << 60}}}],"data_offsets":[0,{{{1L << 60}}}]}}""", new byte[8]));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "a buffer was sized from the header");
    }

    [Fact]
    public void Header_that_is_not_json_or_not_an_object()
    {
        Assert.Contains("header is not valid JSON", HeaderError("{\"a\": "));
        Assert.Contains("header is not valid JSON", OpenError([.. BitConverter.GetBytes(2UL), 0xC3, 0x28]));   // invalid UTF-8
        Assert.Contains("must be a JSON object; it is a JSON Array", HeaderError("[1, 2]"));
    }

    [Theory]
    [InlineData("""{"w":3}""", "tensor 'w': the entry must be a JSON object")]
    [InlineData("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", "tensor 'w' has no 'dtype' field")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", "tensor 'w' has no 'shape' field")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1]}}""", "tensor 'w' has no 'data_offsets' field")]
    [InlineData("""{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}""", "tensor 'w': field 'dtype' must be a JSON String")]
    [InlineData("""{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}""", "tensor 'w': field 'shape' must be a JSON Array")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "tensor 'w': field 'shape' must hold non-negative integers; element 0 is -1")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", "field 'shape' must hold non-negative integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", "tensor 'w': field 'data_offsets' must hold exactly two integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,4]}}""", "tensor 'w': field 'data_offsets' must hold non-negative integers")]
    [InlineData("""{"__metadata__":{"format":1}}""", "field '__metadata__.format' must be a string")]
    [InlineData("""{"__metadata__":[]}""", "field '__metadata__' must be an object of strings")]
    public void Entries_with_missing_or_mistyped_fields(string header, string expected)
    {
        Assert.Contains(expected, HeaderError(header, new byte[8]));
    }

    [Fact]
    public void Unknown_and_unsupported_dtypes()
    {
        Assert.Contains("tensor 'w' has unknown dtype 'F99'; supported: BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64",
            HeaderError("""{"w":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}""", new byte[4]));
        Assert.Contains("tensor 'w' has dtype 'F8_E4M3', which TorchSharp has no element type for",
            HeaderError("""{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""", new byte[4]));
    }

    [Fact]
    public void Offsets_outside_the_data_section_reversed_or_of_the_wrong_size()
    {
        Assert.Contains("tensor 'w': data_offsets [0, 16] run past the end of the data section (8 bytes)",
            HeaderError("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]));
        Assert.Contains("tensor 'w': data_offsets [8, 4] begin after they end",
            HeaderError("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", new byte[8]));
        Assert.Contains("tensor 'w': data_offsets [0, 8] span 8 bytes, but dtype BF16 and shape [2, 3] need 12",
            HeaderError("""{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}}""", new byte[8]));
        Assert.Contains("tensor 'w': shape [4294967296, 4294967296] is too large",
            HeaderError("""{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", new byte[8]));
    }

    [Fact]
    public void Truncated_data_is_refused_at_open()
    {
        // 2 × 3 floats declared, only half of the bytes present: the file was cut short.
        var full = HandMade.FileBytes("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""", F32(1, 2, 3, 4, 5, 6));
        Assert.Contains("tensor 'w': data_offsets [0, 24] run past the end of the data section (12 bytes); the file is truncated",
            OpenError(full[..^12]));
    }

    [Fact]
    public void Data_cut_short_after_open_is_refused_at_read()
    {
        using var scope = NewDisposeScope();
        string path = HandMade.Write(dir.Path, "shrinks.safetensors",
            """{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""", F32(1, 2, 3, 4, 5, 6));
        using var reader = SafetensorsReader.Open(path);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            RandomAccess.SetLength(file, new FileInfo(path).Length - 4);
        var ex = Assert.Throws<ModelFormatException>(() => reader.ReadTensor("w"));
        Assert.Contains(path, ex.Message);
        Assert.Contains("ends inside the data of tensor 'w'", ex.Message);
    }

    [Fact]
    public void Overlapping_entries_name_both_tensors()
    {
        var message = HeaderError(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12]);
        Assert.Contains("tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])", message);
        // Nested inside a longer one, after an empty tensor at the same offset.
        message = HeaderError(
            """{"long":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"none":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"in":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", new byte[16]);
        Assert.Contains("tensor 'in' (data_offsets [8, 12]) overlaps tensor 'long'", message);
    }

    [Fact]
    public void Duplicate_names_are_refused()
    {
        Assert.Contains("tensor 'a' appears twice in the header",
            HeaderError("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]));
        Assert.Contains("tensor '__metadata__' appears twice", HeaderError("""{"__metadata__":{},"__metadata__":{}}"""));
    }

    [Fact]
    public void A_missing_tensor_is_named_with_the_file()
    {
        string path = HandMade.Write(dir.Path, "one.safetensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32(1));
        using var reader = SafetensorsReader.Open(path);
        var ex = Assert.Throws<ModelFormatException>(() => reader.ReadTensor("model.embed_tokens.weight"));
        Assert.Contains($"{path}: no tensor named 'model.embed_tokens.weight'", ex.Message);
    }

    [Fact]
    public void A_missing_file_is_an_io_error()
    {
        Assert.Throws<FileNotFoundException>(() => SafetensorsReader.Open(Path.Combine(dir.Path, "absent.safetensors")));
    }

    [Fact]
    public void Nothing_is_read_after_dispose()
    {
        string path = HandMade.Write(dir.Path, "one.safetensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32(1));
        var reader = SafetensorsReader.Open(path);
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.ReadTensor("a"));
    }

    [Fact]
    public void Random_bytes_never_escape_as_anything_but_a_format_error()
    {
        // Corrupt a valid file at random positions: opening either succeeds or throws ModelFormatException.
        var valid = HandMade.FileBytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}}""",
            F32(1, 2), BF16(3));
        var random = new Random(1234);
        string path = Path.Combine(dir.Path, "fuzz.safetensors");
        for (int i = 0; i < 300; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (int k = 0; k < 1 + i % 3; k++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(path, bytes[..random.Next(bytes.Length / 2, bytes.Length + 1)]);
            try
            {
                using var scope = NewDisposeScope();
                using var reader = SafetensorsReader.Open(path);
                foreach (var entry in reader.Entries) reader.ReadTensor(entry.Name);
            }
            catch (ModelFormatException ex)
            {
                Assert.Contains(path, ex.Message);
            }
        }
    }
}
