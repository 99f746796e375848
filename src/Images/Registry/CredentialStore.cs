using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MiniDocker.Images.Registry;

/// <summary>A user name and password for one registry, as `login` stored them.</summary>
public sealed record RegistryCredentials(string Username, string Password)
{
    public string BasicValue => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));
}

/// <summary>
/// Credentials in Docker's client file, <c>config.json</c>: <c>{"auths":{"host:port":{"auth":"base64(user:pass)"}}}</c>,
/// in <c>$DOCKER_CONFIG</c> when set, else <c>$HOME/.docker</c> (root's, since every verb runs as root), so
/// `docker login` and `minidocker login` share one file. The directory is made 0700 and the file written 0600 (via a
/// temporary file and rename, so a crash never leaves half a file); keys of the file that are not ours are kept.
/// </summary>
public sealed class CredentialStore(string directory)
{
    /// <summary>Docker Hub's key in config.json (the v1 index URL, for historical reasons).</summary>
    public const string DockerHubKey = "https://index.docker.io/v1/";

    public string Directory { get; } = directory;
    public string FilePath => Path.Combine(Directory, "config.json");

    public static CredentialStore Default()
    {
        if (Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } dir)
            return new CredentialStore(dir);
        var home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : "/root";
        return new CredentialStore(Path.Combine(home, ".docker"));
    }

    /// <summary>The key a registry host is stored under (Docker Hub's v1 URL for docker.io).</summary>
    public static string KeyOf(string domain) =>
        domain is DistributionReference.DockerHub or "index.docker.io" or "registry-1.docker.io" ? DockerHubKey : domain;

    /// <summary>The stored credentials for <paramref name="domain"/>, or null. Keys written as URLs
    /// (<c>https://host/v1/</c>) match their host, as Docker's lookup does.</summary>
    public RegistryCredentials? Find(string domain)
    {
        var auths = Read()?["auths"] as JsonObject;
        if (auths is null)
            return null;
        var key = KeyOf(domain);
        foreach (var (name, value) in auths)
        {
            if (name != key && HostOf(name) != HostOf(key))
                continue;
            if (value?["auth"]?.GetValue<string>() is not { Length: > 0 } auth)
                continue;
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
            }
            catch (FormatException)
            {
                throw new ImageException($"'{FilePath}': the stored credentials for {name} are not base64");
            }
            var colon = decoded.IndexOf(':');
            if (colon < 0)
                throw new ImageException($"'{FilePath}': the stored credentials for {name} are not user:password");
            return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..]);
        }
        return null;
    }

    public void Store(string domain, RegistryCredentials credentials)
    {
        var document = Read() ?? new JsonObject();
        if (document["auths"] is not JsonObject auths)
            document["auths"] = auths = new JsonObject();
        auths[KeyOf(domain)] = new JsonObject { ["auth"] = credentials.BasicValue };
        Write(document);
    }

    /// <summary>Removes the entry of <paramref name="domain"/>; false when there was none.</summary>
    public bool Remove(string domain)
    {
        var document = Read();
        if (document?["auths"] is not JsonObject auths)
            return false;
        var key = KeyOf(domain);
        var names = auths.Select(a => a.Key).Where(n => n == key || HostOf(n) == HostOf(key)).ToList();
        if (names.Count == 0)
            return false;
        foreach (var name in names)
            auths.Remove(name);
        Write(document);
        return true;
    }

    /// <summary>A config.json key or a SERVER argument (<c>host:port</c>, <c>https://host/v1/</c>) reduced to the
    /// registry's host[:port], Docker Hub's aliases to docker.io.</summary>
    public static string HostOf(string key)
    {
        var host = key;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            host = host[(scheme + 3)..];
        var slash = host.IndexOf('/');
        if (slash >= 0)
            host = host[..slash];
        return host.ToLowerInvariant() is "index.docker.io" or "registry-1.docker.io" or "docker.io" ? "docker.io" : host.ToLowerInvariant();
    }

    private JsonObject? Read()
    {
        if (!File.Exists(FilePath))
            return null;
        try
        {
            return JsonNode.Parse(File.ReadAllBytes(FilePath)) as JsonObject
                   ?? throw new ImageException($"'{FilePath}' is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ImageException($"'{FilePath}' is not valid JSON: {e.Message}", e);
        }
    }

    private void Write(JsonObject document)
    {
        if (!System.IO.Directory.Exists(Directory))
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = Path.Combine(Directory, $".config.json.{Environment.ProcessId}.tmp");
        var bytes = Encoding.UTF8.GetBytes(document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        // Created 0600 from the start: the password must never be readable by others, not even for a moment.
        using (var file = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, FilePath, overwrite: true);
    }
}
