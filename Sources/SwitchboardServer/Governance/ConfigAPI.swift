import Hummingbird
import SwitchboardCore

/// `GET /admin/config`: the configuration in force with every secret masked (`ConfigReport`), its source, version and
/// hash; `POST /admin/config/reload` re-reads the file (ConfigReload.swift). Admin role.
enum ConfigAPI {
    static func add(to admin: RouterGroup<GatewayRequestContext>, reloader: ConfigReloader) {
        let config = admin.group("config").add(middleware: RoleMiddleware(.admin))
        // The report is made once per configuration, when it comes into force.
        config.get { _, _ in jsonResponse(reloader.report) }
        config.post("reload") { _, context in
            reloader.reload(logger: context.logger).response()
        }
    }
}
