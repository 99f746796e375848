using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MiniDocker.Network;

internal static class StateJson
{
    public static T Read<T>(string path, JsonTypeInfo<T> typeInfo)
    {
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(File.ReadAllBytes(path), typeInfo);
        }
        catch (Exception e) when (e is JsonException or NetworkException)
        {
            throw new NetworkException($"state file {path} is corrupt: {e.Message}", e);
        }
        return value ?? throw new NetworkException($"state file {path} is corrupt: it contains null");
    }

    public static void Write<T>(string path, T value, JsonTypeInfo<T> typeInfo) =>
        AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo));
}
