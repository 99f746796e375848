namespace MiniDocker.Network.Tests;

/// <summary>A fresh state root under /tmp, removed with everything in it when disposed.</summary>
public sealed class TempStateRoot : IDisposable
{
    public TempStateRoot() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mdk-nettest-{Guid.NewGuid():N}");

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
