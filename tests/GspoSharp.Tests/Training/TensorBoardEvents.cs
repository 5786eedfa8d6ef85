using Tensorboard;

namespace GspoSharp.Tests.Training;

/// <summary>Reads TensorBoard event files: TFRecords (length, masked CRC, Event protobuf, masked CRC).</summary>
internal static class TensorBoardEvents
{
    public sealed record Scalar(string Tag, long Step, float Value);

    public static List<Scalar> Read(string path)
    {
        var result = new List<Scalar>();
        using var reader = new BinaryReader(File.OpenRead(path));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            long length = reader.ReadInt64();
            reader.ReadUInt32();                       // CRC of the length
            var e = Event.Parser.ParseFrom(reader.ReadBytes((int)length));
            reader.ReadUInt32();                       // CRC of the data
            if (e.Summary is null) continue;
            foreach (var value in e.Summary.Value) result.Add(new Scalar(value.Tag, e.Step, value.SimpleValue));
        }
        return result;
    }
}
