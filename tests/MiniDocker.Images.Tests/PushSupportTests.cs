using System.Formats.Tar;
using System.Text;
using MiniDocker.Images.Archive;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Tests;

/// <summary>What push and login rely on: stable layer tar bytes, and Docker's config.json for credentials.</summary>
public sealed class PushSupportTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public void Pax_extended_headers_lose_the_writers_pid_and_the_entries_read_back_unchanged()
    {
        var dir = _sandbox.Dir("tree");
        var longName = new string('n', 150);
        File.WriteAllText(Path.Combine(dir, "short"), "s");
        File.WriteAllText(Path.Combine(dir, longName), "long");
        var output = new MemoryStream();
        LayerTarWriter.Write(dir, output, overlayWhiteouts: false);
        var bytes = output.ToArray();
        var text = Encoding.ASCII.GetString(bytes);
        Assert.DoesNotContain($"PaxHeaders.{Environment.ProcessId}", text);
        Assert.Contains("PaxHeaders.0/entry", text);

        using var reader = new TarReader(new MemoryStream(bytes));
        var read = new Dictionary<string, string>();
        while (reader.GetNextEntry(copyData: true) is { } entry)
            read[entry.Name] = new StreamReader(entry.DataStream!).ReadToEnd();
        Assert.Equal(new Dictionary<string, string> { ["short"] = "s", [longName] = "long" }, read);
    }

    [Fact]
    public void Credentials_are_stored_0600_in_a_0700_directory_keeping_other_keys_and_removed_by_host()
    {
        var dir = Path.Combine(_sandbox.Dir("home"), ".docker");
        var store = new CredentialStore(dir);
        Assert.Null(store.Find("127.0.0.1:5000"));
        store.Store("127.0.0.1:5000", new RegistryCredentials("user", "pa:ss"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        Assert.Contains("\"auth\": \"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:pa:ss")) + "\"", File.ReadAllText(store.FilePath));
        Assert.Equal(new RegistryCredentials("user", "pa:ss"), store.Find("127.0.0.1:5000"));

        // A file docker wrote: other keys stay, a URL-shaped key matches its host, Docker Hub has its v1 key.
        File.WriteAllText(store.FilePath, """{"auths":{"https://registry.example:443/v1/":{"auth":"dTpw"}},"psFormat":"x"}""");
        Assert.Equal(new RegistryCredentials("u", "p"), store.Find("registry.example:443"));
        store.Store("docker.io", new RegistryCredentials("hub", "h"));
        Assert.Contains(CredentialStore.DockerHubKey, File.ReadAllText(store.FilePath));
        Assert.Contains("psFormat", File.ReadAllText(store.FilePath));
        Assert.True(store.Remove("registry.example:443"));
        Assert.False(store.Remove("registry.example:443"));
        Assert.Null(store.Find("registry.example:443"));
        Assert.Equal(new RegistryCredentials("hub", "h"), store.Find("docker.io"));
    }
}
