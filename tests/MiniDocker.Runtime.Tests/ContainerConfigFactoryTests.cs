using MiniDocker.Runtime;

namespace MiniDocker.Runtime.Tests;

public sealed class ContainerConfigFactoryTests
{
    private static readonly ImageDefaults Busybox = new("f00", "/images/f00/rootfs", ["sh"], [], ["PATH=/bin", "IMG=1"], null);

    [Fact]
    public void Users_command_replaces_the_images_cmd()
    {
        var c = ContainerConfigFactory.Create(new RunRequest { Image = "busybox", Command = ["echo", "hi"] }, Busybox, _ => null);
        Assert.Equal(["echo", "hi"], c.Args);
        Assert.Equal(["sh"], ContainerConfigFactory.Create(new RunRequest { Image = "busybox" }, Busybox, _ => null).Args);
    }

    [Fact]
    public void The_images_volumes_become_anonymous_volumes_except_where_the_user_mounts_something()
    {
        var image = Busybox with { Volumes = ["/data", "/cache/", "/x:/etc"] };
        var c = ContainerConfigFactory.Create(new RunRequest { Image = "b", Volumes = ["/srv/host:/cache"] }, image, _ => null);
        var cache = Assert.Single(c.Mounts, m => m.Target == "/cache");
        Assert.Equal(Volumes.MountType.Bind, cache.Type);
        var data = Assert.Single(c.Mounts, m => m.Target == "/data");
        Assert.True(data.IsVolume && data.Anonymous);
        // A colon in an image's volume is part of the path, never -v's "host:container".
        var odd = Assert.Single(c.Mounts, m => m.Target == "/x:/etc");
        Assert.True(odd.IsVolume && odd.Anonymous && odd.Source.Length == 0);
        Assert.DoesNotContain(c.Mounts, m => m.Type == Volumes.MountType.Bind && m.Target == "/etc");
    }

    [Fact]
    public void Entrypoint_flag_drops_the_images_cmd_like_docker()
    {
        var c = ContainerConfigFactory.Create(new RunRequest { Image = "b", Entrypoint = "/bin/date" }, Busybox, _ => null);
        Assert.Equal(["/bin/date"], c.Args);
    }

    [Fact]
    public void No_command_anywhere_is_an_error()
    {
        var image = Busybox with { Cmd = [] };
        var e = Assert.Throws<ContainerException>(() => ContainerConfigFactory.Create(new RunRequest { Image = "b" }, image, _ => null));
        Assert.Equal(125, e.ExitCode);
        Assert.Contains("no command specified", e.Message);
    }

    [Fact]
    public void Hostname_defaults_to_the_first_12_hex_digits_of_the_id()
    {
        var c = ContainerConfigFactory.Create(new RunRequest { Image = "b" }, Busybox, _ => null);
        Assert.Matches("^[0-9a-f]{64}$", c.Id);
        Assert.Equal(c.Id[..12], c.Hostname);
    }

    [Fact]
    public void Environment_image_overrides_defaults_and_user_overrides_image_in_place()
    {
        var env = ContainerConfigFactory.BuildEnv(["PATH=/bin", "IMG=1"], ["IMG=2", "NEW=x"], "host", tty: true);
        Assert.Equal(["PATH=/bin", "HOSTNAME=host", "IMG=2", "NEW=x", "TERM=xterm", "HOME=/root"], env);
    }

    [Fact]
    public void Env_without_value_is_taken_from_the_host_when_set()
    {
        var request = new RunRequest { Image = "b", Env = ["FROMHOST", "UNSET", "A=1"] };
        var env = ContainerConfigFactory.UserEnv(request, k => k == "FROMHOST" ? "yes" : null);
        Assert.Equal(["FROMHOST=yes", "A=1"], env);
    }

    [Fact]
    public void Env_file_lines_skip_comments_and_blanks()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# c\n\nA=1\n  B=two words\n");
            var env = ContainerConfigFactory.UserEnv(new RunRequest { EnvFiles = [file] }, _ => null);
            Assert.Equal(["A=1", "B=two words"], env);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Missing_env_file_is_named_in_the_error()
    {
        var e = Assert.Throws<ContainerException>(() => ContainerConfigFactory.UserEnv(new RunRequest { EnvFiles = ["/nonexistent/env"] }, _ => null));
        Assert.Contains("/nonexistent/env", e.Message);
    }

    [Fact]
    public void Relative_working_directory_is_refused()
    {
        var e = Assert.Throws<ContainerException>(() => ContainerConfigFactory.Create(new RunRequest { Image = "b", WorkingDir = "tmp" }, Busybox, _ => null));
        Assert.Contains("absolute path", e.Message);
    }
}

public sealed class ResolvConfTests
{
    [Fact]
    public void Loopback_resolvers_are_dropped_others_kept()
    {
        string host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch lab\noptions edns0\n";
        Assert.Equal("# generated\nnameserver 10.0.0.2\nsearch lab\noptions edns0\n", ResolvConf.Filter(host));
    }
}

public sealed class ExecutableLookupTests
{
    [Fact]
    public void Missing_program_on_path_is_127_with_dockers_message()
    {
        var e = Assert.Throws<ContainerException>(() => Init.ContainerInit.ResolveExecutable("nosuch-mdk", ["PATH=/nonexistent"]));
        Assert.Equal(127, e.ExitCode);
        Assert.Equal("exec: \"nosuch-mdk\": executable file not found in $PATH", e.Message);
    }

    [Fact]
    public void A_directory_is_126()
    {
        var e = Assert.Throws<ContainerException>(() => Init.ContainerInit.ResolveExecutable("/tmp", []));
        Assert.Equal(126, e.ExitCode);
    }

    [Fact]
    public void Path_search_finds_the_first_match()
    {
        Assert.Equal("/bin/sh", Init.ContainerInit.ResolveExecutable("sh", ["PATH=/nonexistent:/bin:/usr/bin"]));
    }
}
