//! Windows: the service control manager (SoftEther `MsService`,
//! `src/Mayaqua/Microsoft.c`): `/install`, `/uninstall`, `/start`, `/stop`,
//! `/usermode`, and `/service` (the entry point the SCM runs). There is no
//! supervisor process on Windows; restarts come from the SCM failure
//! actions (restart after 10 s, as SoftEther configures).

use std::ffi::{OsStr, OsString};
use std::sync::mpsc;
use std::time::Duration;

use rustether_server::worker::WorkerOptions;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use crate::{exit, Edition};

/// SCM service name: `rustether-vpnserver` / `rustether-vpnbridge`.
fn service_name(e: Edition) -> String {
    format!("rustether-{}", e.program_name())
}

fn state_dir() -> std::path::PathBuf {
    std::env::var_os("ProgramData")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(r"C:\ProgramData"))
        .join("RustEther")
}

/// Handles the Windows-style arguments; `None` for anything else (then the
/// common parser prints the usage).
pub(crate) fn try_windows_command(e: Edition, args: &[OsString]) -> Option<u8> {
    let a = args.get(1)?.to_string_lossy().to_ascii_lowercase();
    let r = match a.as_str() {
        "/install" => install(e),
        "/uninstall" => uninstall(e),
        "/start" => control(e, true),
        "/stop" => control(e, false),
        "/usermode" => return Some(usermode(e)),
        "/service" => return Some(service_dispatch(e)),
        _ => return None,
    };
    Some(match r {
        Ok(msg) => {
            println!("{msg}");
            exit::OK
        }
        Err(err) => {
            eprintln!("{err}");
            exit::FAILURE
        }
    })
}

fn install(e: Edition) -> windows_service::Result<String> {
    let m = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )?;
    let exe = std::env::current_exe().map_err(windows_service::Error::Winapi)?;
    let info = ServiceInfo {
        name: OsString::from(service_name(e)),
        display_name: OsString::from(e.title()),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![OsString::from("/service")],
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let svc = m.create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)?;
    let _ = svc.set_description(format!("{} (Service Mode)", e.title()));
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(10),
    };
    let _ = svc.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart.clone(), restart.clone(), restart]),
    });
    svc.start::<&OsStr>(&[])?;
    Ok(format!(
        "The {} service has been installed and started.",
        e.title()
    ))
}

fn uninstall(e: Edition) -> windows_service::Result<String> {
    let m = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
    let svc = m.open_service(
        service_name(e),
        ServiceAccess::STOP | ServiceAccess::DELETE | ServiceAccess::QUERY_STATUS,
    )?;
    if svc.query_status()?.current_state != ServiceState::Stopped {
        let _ = svc.stop();
    }
    svc.delete()?;
    Ok(format!("The {} service has been uninstalled.", e.title()))
}

fn control(e: Edition, start: bool) -> windows_service::Result<String> {
    let m = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
    let svc = m.open_service(
        service_name(e),
        ServiceAccess::START | ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
    )?;
    if start {
        svc.start::<&OsStr>(&[])?;
        Ok(crate::messages::started(e))
    } else {
        svc.stop()?;
        Ok(crate::messages::stopped(e))
    }
}

fn run_worker(e: Edition) -> anyhow::Result<()> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir)?;
    rustether_server::worker::run(WorkerOptions {
        edition: e,
        state_dir: dir,
        inherited: Vec::new(),
        on_ready: None,
        after_bind: None,
    })
}

/// `/usermode`: run in this console until Ctrl+C (no tray icon).
fn usermode(e: Edition) -> u8 {
    match run_worker(e) {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("{err:#}");
            exit::FAILURE
        }
    }
}

static EDITION: std::sync::OnceLock<Edition> = std::sync::OnceLock::new();

windows_service::define_windows_service!(ffi_service_main, service_main);

fn service_main(_args: Vec<OsString>) {
    let e = *EDITION.get().unwrap_or(&Edition::Server);
    let (tx, rx) = mpsc::channel();
    let handler = move |c| match c {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            let _ = tx.send(());
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(h) = service_control_handler::register(service_name(e), handler) else {
        return;
    };
    let status = |state, accept| ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code: ServiceExitCode::Win32(0),
        checkpoint: 0,
        wait_hint: Duration::from_secs(10),
        process_id: None,
    };
    let _ = h.set_service_status(status(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
    ));
    let worker = std::thread::spawn(move || run_worker(e));
    // The engine stops on Ctrl+C-equivalent signals only on Unix; on Windows
    // the SCM stop ends the process after reporting.
    let _ = rx.recv();
    let _ = h.set_service_status(status(
        ServiceState::StopPending,
        ServiceControlAccept::empty(),
    ));
    drop(worker);
    let _ = h.set_service_status(status(ServiceState::Stopped, ServiceControlAccept::empty()));
}

fn service_dispatch(e: Edition) -> u8 {
    let _ = EDITION.set(e);
    match windows_service::service_dispatcher::start(service_name(e), ffi_service_main) {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("{err}");
            exit::FAILURE
        }
    }
}
