//! Accounts (instance admins): sign-up closes after the first account, so an instance admin
//! makes the others here — name, email, a first password to hand over, optionally instance
//! admin too. The new person signs in and finds the invitations sent to their address.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::pages::{SignedIn, check_csrf, error_page, page};
use crate::access::SessionUser;
use crate::api::AppState;
use crate::api::accounts::{NewUser, add_account};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage<'a> {
    user: Option<&'a SessionUser>,
    error: Option<String>,
    csrf: String,
    created: Option<String>,
    name: String,
    email: String,
}

fn accounts_page(
    user: &SessionUser,
    status: StatusCode,
    error: Option<String>,
    created: Option<String>,
    typed: (String, String),
) -> Response {
    page(
        status,
        &AccountsPage {
            user: Some(user),
            error,
            csrf: user.csrf_token.clone(),
            created,
            name: typed.0,
            email: typed.1,
        },
    )
}

pub(super) async fn show(SignedIn(user): SignedIn) -> Response {
    if !user.is_admin {
        return error_page(
            Some(&user),
            &ApiError::Forbidden("only instance admins create accounts"),
        );
    }
    accounts_page(&user, StatusCode::OK, None, None, Default::default())
}

#[derive(Deserialize)]
pub(super) struct AccountForm {
    csrf_token: String,
    name: String,
    email: String,
    password: String,
    #[serde(default)]
    is_admin: Option<String>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Form(form): Form<AccountForm>,
) -> Response {
    let typed = (form.name.clone(), form.email.clone());
    let made = async {
        check_csrf(&user, &form.csrf_token)?;
        let new = NewUser {
            email: form.email,
            name: form.name,
            password: form.password,
            is_admin: form.is_admin.is_some(),
        };
        add_account(&state.pool, &user.caller(), new).await
    };
    match made.await {
        Ok(account) => accounts_page(
            &user,
            StatusCode::CREATED,
            None,
            Some(account.email),
            Default::default(),
        ),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            let (status, message) = e.for_people();
            accounts_page(&user, status, Some(message), None, typed)
        }
        Err(e) => error_page(Some(&user), &e),
    }
}
