using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// `login`/`logout`, and pull and push with the stored credentials, against docker-registry with htpasswd (Basic) and
/// with token authentication through a token issuer the test runs, over HTTP and over HTTPS with a CA of the test's own.
/// </summary>
public sealed class RegistryAuthTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        _md.Dispose();
        foreach (var owned in _owned) owned.Dispose();
    }

    private LocalRegistry Start(RegistryOptions options)
    {
        var registry = new LocalRegistry(options);
        _owned.Add(registry);
        var layout = new OciLayout();
        _owned.Add(layout);
        var baseLayer = OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip");
        layout.Tag("1", layout.Image([baseLayer, OciLayout.Layer(OciLayout.Tar(("marker", "private")))], OciLayout.HostArchitecture));
        registry.Push(layout, "private", "1");
        return registry;
    }

    private string ConfigFile => Path.Combine(_md.DockerConfig, "config.json");

    private void UseCertsDir(LocalRegistry registry) =>
        File.WriteAllText(Path.Combine(_md.Root, "daemon.json"),
            $$"""{"allowed-registries": ["127.0.0.1", "localhost"], "certs-dir": "{{registry.CertsDir}}"}""");

    /// <summary>The whole round: refused before login, a wrong password stores nothing, login, pull, push, logout.</summary>
    private void LoginPullPushLogout(LocalRegistry registry)
    {
        var host = registry.Host;
        var reference = $"{host}/private:1";
        var options = registry.Options;

        var anonymous = _md.Run("pull", reference);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("login", anonymous.Stderr);

        var wrong = _md.RunWith("not-the-password\n", TimeSpan.FromSeconds(60), "login", "-u", options.User, "--password-stdin", host);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("incorrect username or password", wrong.Stderr);
        Assert.Single(wrong.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(ConfigFile), "a refused login stored something");

        var login = _md.RunWith(options.Password + "\n", TimeSpan.FromSeconds(60), "login", "-u", options.User, "--password-stdin", host);
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Equal("Login Succeeded\n", login.Stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_md.DockerConfig));
        var stored = JsonNode.Parse(File.ReadAllText(ConfigFile))!["auths"]![host]!["auth"]!.GetValue<string>();
        Assert.Equal($"{options.User}:{options.Password}", Encoding.UTF8.GetString(Convert.FromBase64String(stored)));

        var pull = _md.Run("pull", reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal("private", _md.Run("run", "--rm", "--net", "none", reference, "cat", "/marker").Stdout);

        var pushed = $"{host}/pushed/bb:1";
        Assert.Equal(0, _md.Run("tag", "busybox", pushed).ExitCode);
        var push = _md.Run("push", pushed);
        Assert.True(push.ExitCode == 0, push.ToString());
        var inspect = RegistryPushTests.Skopeo(["inspect", .. registry.SkopeoFlags("src").Select(f => f.Replace("--src-", "--")), $"docker://{pushed}"]);
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains(JsonNode.Parse(inspect.Stdout)!["Digest"]!.GetValue<string>(), push.Stdout);

        var logout = _md.Run("logout", host);
        Assert.Equal($"Removing login credentials for {host}\n", logout.Stdout);
        Assert.Null(JsonNode.Parse(File.ReadAllText(ConfigFile))!["auths"]![host]);
        Assert.NotEqual(0, _md.Run("pull", pushed).ExitCode);
        Assert.Equal($"Not logged in to {host}\n", _md.Run("logout", host).Stdout);
    }

    [Fact]
    public void Htpasswd_basic_auth_login_pull_push_logout()
    {
        LoginPullPushLogout(Start(new RegistryOptions(Auth: RegistryAuthKind.Htpasswd)));
    }

    [Fact]
    public void Token_auth_through_a_token_issuer_login_pull_push_logout()
    {
        var registry = Start(new RegistryOptions(Auth: RegistryAuthKind.Token));
        LoginPullPushLogout(registry);
        Assert.True(registry.TokenIssuer!.Issued > 0);
    }

    [Fact]
    public void Https_with_the_tests_own_CA_in_a_certs_d_directory_and_htpasswd()
    {
        var registry = Start(new RegistryOptions(Tls: true, Auth: RegistryAuthKind.Htpasswd));
        // Without the CA the registry is not trusted (nor spoken to in plain HTTP): one line, nothing stored.
        var untrusted = _md.RunWith(registry.Options.Password + "\n", TimeSpan.FromSeconds(60),
            "login", "-u", registry.Options.User, "--password-stdin", registry.Host);
        Assert.Equal(1, untrusted.ExitCode);
        Assert.Single(untrusted.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(ConfigFile));
        UseCertsDir(registry);
        LoginPullPushLogout(registry);
    }

    [Fact]
    public void Https_without_authentication_pulls_and_pushes_once_the_CA_is_in_certs_d()
    {
        var registry = Start(new RegistryOptions(Tls: true));
        var reference = $"{registry.Host}/private:1";
        Assert.NotEqual(0, _md.Run("pull", reference).ExitCode);
        UseCertsDir(registry);
        var pull = _md.Run("pull", reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal(0, _md.Run("tag", "busybox", $"{registry.Host}/pushed:1").ExitCode);
        var push = _md.Run("push", $"{registry.Host}/pushed:1");
        Assert.True(push.ExitCode == 0, push.ToString());
    }
}
