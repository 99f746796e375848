using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MiniDocker.Linux;

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

    /// <summary>Writes a state file atomically. An I/O error (ENOSPC, EDQUOT, EROFS, EIO) becomes one line naming
    /// the file; the temp file is gone and the old content, if any, is untouched.</summary>
    public static void Write<T>(string path, T value, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), fsyncDirectory: true);
        }
        catch (IOException e)
        {
            throw new NetworkException($"cannot write {path}: {Reason(e)}", e);
        }
        catch (SyscallException e)
        {
            throw new NetworkException($"cannot write {path}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage((int)e.Errno)}", e);
        }
    }

    /// <summary>.NET's IOException text for an errno is "REASON : 'PATH'"; the path is named by the caller already.</summary>
    private static string Reason(IOException e)
    {
        string message = e.Message;
        int quote = message.IndexOf(" : '", StringComparison.Ordinal);
        return (quote > 0 ? message[..quote] : message).Trim();
    }
}
