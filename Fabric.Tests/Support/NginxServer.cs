using System.Diagnostics;
using System.Text;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Support;

/// <summary>
/// nginx in a network namespace, on its own configuration in a private directory (pid file,
/// error log and temp paths there, <c>daemon off;</c>, one worker), answering every request
/// with a short 200. Killed by its PID on dispose; nothing of the system's nginx is used.
/// </summary>
public sealed class NginxServer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public NginxServer(string netns, string address, int port, string directory)
    {
        var nginx = HostTools.Require("nginx", "nginx-light");
        Directory.CreateDirectory(directory);
        Config = Path.Combine(directory, "nginx.conf");
        ErrorLog = Path.Combine(directory, "error.log");
        File.WriteAllText(Config, $$"""
            daemon off;
            master_process on;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{ErrorLog}} warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                server {
                    listen {{address}}:{{port}} backlog=4096;
                    location / { return 200 "ok\n"; }
                }
            }
            """);
        var psi = new ProcessStartInfo(HostTools.Require("ip", "iproute2"), $"netns exec {netns} {nginx} -p {directory} -c {Config} -e {ErrorLog}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start nginx");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Config { get; }
    public string ErrorLog { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString() + (File.Exists(ErrorLog) ? File.ReadAllText(ErrorLog) : "");
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public void Dispose()
    {
        try
        {
            // `ip netns exec` execs nginx, so this PID is nginx's master; its worker goes with the tree.
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
